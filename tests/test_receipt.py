"""Kantara Consent Receipt v1.1: every receipt validates against the official schema and
carries Kantara's coded purpose and PII categories."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT, build, minimal_data
from jsonschema import Draft4Validator

import toolkit
from toolkit.proof import Ledger
from toolkit.proof.receipt import (
    PII_CATEGORIES,
    PURPOSE_CATEGORIES,
    pii_categories,
    purpose_categories,
)
from toolkit.render import notice_context
from toolkit.spec import Spec

SCHEMA = json.loads(
    (ROOT / "tests" / "data" / "kantara-consent-receipt-v1_1.schema.json").read_text("utf-8")
)
VALIDATOR = Draft4Validator(SCHEMA)


def errors(receipt: dict[str, Any]) -> list[str]:
    """The schema's complaints about a receipt, one line each (none when it is valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATOR.iter_errors(receipt)
    ]


def receipt(spec: Spec, purpose: str, locale: str, db: Path) -> dict[str, Any]:
    """The receipt of one event recorded in a fresh ledger: a grant for a consent purpose,
    else the objection the ledger records for it."""
    channel = spec.purpose(purpose).channel
    subject = "person@example.org" if channel == "email" else "+33612345678"
    consent = spec.purpose(purpose).legal_basis == "consent"
    shown = {a: toolkit.render(spec, a, locale).version for a in ("checkbox", "notice-full")}
    with Ledger(db, spec=spec) as book:
        event = book.record(
            subject,
            purpose,
            "grant" if consent else "opposition",
            method="web-form",
            versions=shown if consent else None,
            locale=locale,
        )
        return book.receipt(event.id)


def test_kantara_schema_is_draft4() -> None:
    Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-04/schema#"


@pytest.mark.parametrize("name", [path.stem for path in EXAMPLES])
def test_kantara_receipt_validates_against_schema(
    name: str, examples: dict[str, Spec], tmp_path: Path
) -> None:
    spec = examples[name]
    locales = [loc for loc in ("fr", "de", "en") if loc in spec.locales]
    assert "fr" in locales and len(locales) >= 2
    for purpose in spec.purposes:
        for locale in locales:
            data = receipt(spec, purpose.id, locale, tmp_path / f"{purpose.id}-{locale}.db")
            assert errors(data) == [], (purpose.id, locale)
            assert list(VALIDATOR.iter_errors(data)) == []
            assert data["language"] == locale and data["version"] == "KI-CR-v1.1.0"


def test_kantara_receipt_address_is_an_object(examples: dict[str, Spec], tmp_path: Path) -> None:
    data = receipt(examples["dse-france"], "sms_offers", "fr", tmp_path / "a.db")
    assert data["piiControllers"][0]["address"] == {
        "streetAddress": "12 rue de la République, 69002 Lyon, France",
        "addressCountry": "FR",
    }
    # No address in the spec: still the object the schema requires, with the country.
    bare = build(minimal_data())
    assert bare.controller.address is None
    data = receipt(bare, "sms_offers", "fr", tmp_path / "b.db")
    assert data["piiControllers"][0]["address"] == {"addressCountry": "FR"}
    assert errors(data) == []


def test_kantara_schema_rejects_old_receipt_shapes(
    examples: dict[str, Spec], tmp_path: Path
) -> None:
    """The schema check bites: the shapes the receipt had before are errors."""
    valid = receipt(examples["dse-france"], "sms_offers", "fr", tmp_path / "l.db")
    assert errors(valid) == []
    old = copy.deepcopy(valid)
    old["piiControllers"][0]["address"] = "12 rue de la République, 69002 Lyon, France"
    assert errors(old) == [
        "piiControllers/0/address: '12 rue de la République, 69002 Lyon, "
        "France' is not of type 'object'"
    ]
    unnamed = copy.deepcopy(valid)
    del unnamed["services"][0]["purposes"][0]["thirdPartyName"]
    assert unnamed["services"][0]["purposes"][0]["thirdPartyDisclosure"] is True
    assert len(errors(unnamed)) == 1  # oneOf: a disclosure names the third party


def test_kantara_receipt_categories_are_coded(examples: dict[str, Spec], tmp_path: Path) -> None:
    for spec in examples.values():
        for view in notice_context(spec, "en").purposes:
            assert set(purpose_categories(view)) <= set(PURPOSE_CATEGORIES), view.id
            assert set(pii_categories(view)) <= set(PII_CATEGORIES), view.id
            assert "2 - Contact" in pii_categories(view)  # sms, phone and e-mail
    views = {v.id: v for s in examples.values() for v in notice_context(s, "en").purposes}
    assert purpose_categories(views["sms_offers"]) == ["6 - Marketing"]
    assert purpose_categories(views["newsletter"]) == ["6 - Marketing"]
    assert purpose_categories(views["order_emails"]) == ["2 - Contracted Service"]
    # The free-text data categories stay, outside the coded list.
    data = receipt(examples["newsletter"], "newsletter", "en", tmp_path / "l.db")
    purpose = data["services"][0]["purposes"][0]
    assert purpose["piiCategory"] == ["2 - Contact"]
    assert purpose["piiCategoryText"] == [
        "e-mail address",
        "first name (optional)",
        "chosen language",
    ]
    assert purpose["purposeCategory"] == ["6 - Marketing"] and purpose["consentType"] == "EXPLICIT"


@pytest.mark.parametrize(
    ("basis", "marketing", "channel", "expected"),
    [
        ("consent", True, "sms", "6 - Marketing"),
        ("legitimate_interests", True, "post", "6 - Marketing"),
        ("consent", False, "email", "4 - Contact Requested"),
        ("consent", False, "web", "1 - Core Function"),
        ("contract", True, "email", "2 - Contracted Service"),  # the default flag is not read
        ("contract", False, "email", "2 - Contracted Service"),
        ("legal_obligation", False, "post", "12 - Legally Required Data Retention"),
        ("vital_interests", False, "phone", "14 - Protecting Your Health"),
        ("public_task", False, "post", "1 - Core Function"),
        ("legitimate_interests", False, "post", "15 - Protecting Our Interests"),
    ],
)
def test_kantara_purpose_category_mapping(
    examples: dict[str, Spec], basis: str, marketing: bool, channel: str, expected: str
) -> None:
    base = notice_context(examples["newsletter"], "en").purposes[0]
    view = replace(base, legal_basis=basis, direct_marketing=marketing, channel=channel)
    assert purpose_categories(view) == [expected]
    web = ["2 - Contact", "5 - Network/Service"] if channel == "web" else ["2 - Contact"]
    assert pii_categories(view) == web


def test_kantara_code_lists_are_numbered() -> None:
    for codes in (PURPOSE_CATEGORIES, PII_CATEGORIES):
        assert [code.split(" - ")[0] for code in codes] == [str(n) for n in range(1, 17)]
