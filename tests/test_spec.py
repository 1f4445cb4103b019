"""The spec: loading, every kind of problem reported with its path, defaults, immutability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import EXAMPLES, build

import toolkit
from toolkit.authorities import AUTHORITIES
from toolkit.errors import Problem, SpecError, ToolkitError
from toolkit.i18n import SUPPORTED_LOCALES
from toolkit.spec import json_schema, load_spec, validate_spec


def problems(data: Any) -> list[str]:
    with pytest.raises(SpecError) as info:
        validate_spec(data)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate(path: Path) -> None:
    spec = load_spec(path)
    assert spec.purposes and spec.locales


def test_error_names_place_and_expectation(data: dict[str, Any]) -> None:
    data["purposes"][0]["retention"] = "3 years"
    assert problems(data) == [
        "purposes[0].retention: expected an ISO 8601 duration like P3Y, got '3 years'"
    ]


def test_every_problem_is_listed_at_once(data: dict[str, Any]) -> None:
    data["purposes"][0]["retention"] = "P0Y"
    data["purposes"][0]["channel"] = "fax"
    data["controller"]["email"] = "not-an-address"
    data["notice_url"] = "http://example.fr/donnees"
    data["colour"] = "blue"
    found = problems(data)
    assert len(found) == 5
    joined = "\n".join(found)
    assert "purposes[0].retention: expected a duration longer than zero, got 'P0Y'" in joined
    assert (
        "purposes[0].channel: expected 'sms', 'email', 'phone', 'post' or 'web', got 'fax'"
        in joined
    )
    assert "controller.email: expected an e-mail address" in joined
    assert "notice_url: expected an https:// URL, got 'http://example.fr/donnees'" in joined
    assert "colour: unknown field" in joined


def test_wrong_types_and_missing_fields(data: dict[str, Any]) -> None:
    data["purposes"][0]["direct_marketing"] = "sometimes"
    del data["controller"]["country"]
    data["locales"] = "fr"
    found = "\n".join(problems(data))
    assert "purposes[0].direct_marketing: expected a valid boolean" in found
    assert "controller.country: required field is missing" in found
    assert "locales: expected a valid tuple, got 'fr'" in found


def test_every_declared_locale_needs_every_text(data: dict[str, Any]) -> None:
    data["locales"] = ["fr", "en", "de"]
    data["purposes"][0]["text"]["pt"] = data["purposes"][0]["text"]["fr"]
    found = problems(data)
    assert "purposes[0].text: missing the text for locale 'de' (declared in locales)" in found
    assert "purposes[0].text.pt: locale 'pt' is not declared in locales" in found


def test_consent_needs_label_and_legitimate_interest_needs_its_text(data: dict[str, Any]) -> None:
    del data["purposes"][0]["text"]["en"]["label"]
    second = json.loads(json.dumps(data["purposes"][0]))
    second["id"] = "calls"
    second["legal_basis"] = "legitimate_interests"
    data["purposes"].append(second)
    found = problems(data)
    assert (
        "purposes[0].text.en.label: required: a consent purpose needs its checkbox label" in found
    )
    assert any(p.startswith("purposes[1].text.fr.legitimate_interest: required") for p in found)


def test_consent_cannot_be_required(data: dict[str, Any]) -> None:
    data["purposes"][0]["required"] = True
    found = "\n".join(problems(data))
    assert "purposes[0].required: a consent purpose cannot be required" in found


def test_required_data_needs_requirement_and_consequence(data: dict[str, Any]) -> None:
    data["purposes"][0]["legal_basis"] = "contract"
    data["purposes"][0]["required"] = True
    found = "\n".join(problems(data))
    assert "purposes[0].requirement: required when the data is required" in found
    assert "purposes[0].text.fr.consequence: required" in found


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("EXEMPLE", True),
        ("DIAG EXEMPL", True),
        ("36111", True),
        ("+33612345678", True),
        ("TOOLONGSENDR", False),
        ("1234567890123456", False),
        ("Café", False),
        ("", False),
        ("---", False),
    ],
)
def test_sender_id(data: dict[str, Any], sender: str, ok: bool) -> None:
    data["sms"]["sender"] = sender
    if ok:
        assert build(data).sms is not None
    else:
        assert any(
            p.startswith("sms.sender: expected an alphanumeric sender id") for p in problems(data)
        )


def test_alphanumeric_sender_needs_a_reply_number(data: dict[str, Any]) -> None:
    del data["sms"]["opt_out_number"]
    assert any(p.startswith("sms.opt_out_number: required") for p in problems(data))
    data["sms"]["sender"] = "36111"
    assert build(data).sms is not None


def test_written_opt_out_must_carry_keyword_and_number(data: dict[str, Any]) -> None:
    data["sms"]["opt_out"] = "Répondez ARRET"
    found = problems(data)
    assert "sms.opt_out: must contain the opt-out keyword 'STOP'" in found
    assert "sms.opt_out: must contain the opt-out number '36111'" in found
    data["sms"]["opt_out"] = {"fr": "STOP au 36111"}
    assert "sms.opt_out: missing the text for locale 'en' (declared in locales)" in problems(data)


def test_sms_purpose_needs_sms_section(data: dict[str, Any]) -> None:
    del data["sms"]
    assert "sms: required: purposes[0] uses the sms channel" in problems(data)


def test_ids_unique_and_slugs(data: dict[str, Any]) -> None:
    data["purposes"].append(json.loads(json.dumps(data["purposes"][0])))
    assert problems(data) == ["purposes[1].id: duplicate purpose id 'sms_offers'"]
    data["purposes"][1]["id"] = "Bad Id"
    found = problems(data)
    assert found[0].startswith("purposes[1].id: expected an id of lowercase letters")


def test_at_least_one_locale_and_purpose(data: dict[str, Any]) -> None:
    data["locales"] = []
    data["purposes"] = []
    found = problems(data)
    assert 'locales: expected at least one locale, like ["fr", "en"]' in found
    assert "purposes: expected at least one purpose" in found


def test_source_needs_categories_in_every_locale(data: dict[str, Any]) -> None:
    data["source"] = {
        "publicly_accessible": True,
        "text": {"fr": {"description": "annonces en ligne", "sms": "votre annonce"}},
    }
    data["purposes"][0]["collected_from"] = ["source"]
    found = problems(data)
    assert "source.text: missing the text for locale 'en' (declared in locales)" in found
    assert any(p.startswith("purposes[0].text.fr.data_categories: required") for p in found)


def test_translations_list_the_same_items(data: dict[str, Any]) -> None:
    data["purposes"][0]["text"]["fr"]["recipients"] = ["notre prestataire SMS", "notre agence"]
    data["purposes"][0]["text"]["en"]["recipients"] = ["our SMS provider"]
    assert any("recipients has a different number of entries" in p for p in problems(data))


def test_locales_must_be_shipped_and_unique(data: dict[str, Any]) -> None:
    data["locales"] = ["fr", "en", "ja", "fr"]
    found = problems(data)
    expected = ", ".join(SUPPORTED_LOCALES)
    assert f"locales[2]: expected one of {expected}, got 'ja'" in found
    assert "locales[3]: locale 'fr' is listed twice" in found


def test_phone_is_normalised_to_e164(data: dict[str, Any]) -> None:
    data["controller"]["phone"] = "+33 4 72 00 00 00"
    assert build(data).controller.phone == "+33472000000"
    data["controller"]["phone"] = "04 72 00 00 00"
    assert any(p.startswith("controller.phone: expected a phone number") for p in problems(data))


def test_authority_defaults_from_country(data: dict[str, Any]) -> None:
    authority = build(data).supervisory_authority
    assert "CNIL" in authority.name
    assert authority.website == "https://www.cnil.fr"
    data["controller"]["country"] = "US"
    assert any(p.startswith("authority: required: no default") for p in problems(data))
    data["authority"] = {
        "name": "Data Protection Commission",
        "address": "21 Fitzwilliam Square South, Dublin 2",
        "website": "https://www.dataprotection.ie",
    }
    # a US controller must also say where its people are: no rule pack covers the US
    assert any(p.startswith("markets: required") for p in problems(data))
    data.update(markets=["FR"])
    data["sms"]["opt_out_country"] = "FR"  # the short code is French
    assert build(data).supervisory_authority.name == "Data Protection Commission"


@pytest.mark.parametrize("country", ["FR", "DE", "ES", "IT", "IE", "BE", "NL", "LU"])
def test_authority_table_covers_required_countries(country: str) -> None:
    entry = AUTHORITIES[country]
    assert entry["name"] and entry["address"]
    assert entry["website"].startswith("https://")


def test_dpo_needs_a_contact(data: dict[str, Any]) -> None:
    data["dpo"] = {"name": "Jeanne Martin"}
    assert problems(data) == [
        "dpo: give at least one way to reach the DPO: email, address, phone or website"
    ]


def test_spec_is_frozen(data: dict[str, Any]) -> None:
    spec = build(data)
    with pytest.raises(ValueError, match="frozen"):
        spec.notice_url = "https://elsewhere.example"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.purposes[0].text["de"] = spec.purposes[0].text["fr"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        spec.purposes[0].text["fr"].data_categories.append("x")  # type: ignore[attr-defined]


def test_spec_error_is_a_value_error_and_a_toolkit_error() -> None:
    error = SpecError([Problem("a.b", "bad")], "spec.toml")
    assert isinstance(error, ValueError)
    assert isinstance(error, ToolkitError)
    assert str(error) == "spec.toml: a.b: bad"


def test_missing_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text('locales = ["fr"\n', encoding="utf-8")
    with pytest.raises(SpecError, match=r"broken.toml: invalid TOML"):
        load_spec(broken)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(binary)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{", encoding="utf-8")
    with pytest.raises(SpecError, match="invalid JSON at line 1"):
        load_spec(bad_json)
    listing = tmp_path / "list.json"
    listing.write_text("[]", encoding="utf-8")
    with pytest.raises(SpecError, match="expected a table of settings"):
        load_spec(listing)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path)


def test_json_spec_is_accepted(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_spec(path) == build(data)


def test_json_schema_accepts_examples_and_rejects_bad_values(data: dict[str, Any]) -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in EXAMPLES:
        import tomllib

        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        assert not list(validator.iter_errors(json.loads(json.dumps(raw, default=str))))
    data["purposes"][0]["channel"] = "fax"
    assert list(validator.iter_errors(data))


def test_public_api_exports() -> None:
    assert toolkit.load_spec is load_spec
    assert callable(toolkit.render)
    assert toolkit.__version__


def test_opt_out_free_is_replaced_with_a_clear_message(data: dict[str, Any]) -> None:
    data["sms"]["opt_out_free"] = True
    assert problems(data) == [
        'sms.opt_out_free: replaced by opt_out_cost = "free" (replying costs nothing) or '
        '"standard-rate" (a normal, non-premium SMS)'
    ]
