"""Core GDPR terms in each locale are the Regulation's own (issue 15 item 6): each catalog,
with the example's full notice (its spec names a processor), uses the official wording of its
language version, as i18n/glossary.toml records it."""

from __future__ import annotations

import tomllib
import unicodedata

import pytest
from babel.messages.pofile import read_po
from conftest import ROOT

import toolkit
from toolkit.i18n import LOCALES_DIR, SUPPORTED_LOCALES

GLOSSARY = tomllib.loads((ROOT / "i18n" / "glossary.toml").read_text(encoding="utf-8"))
NOTIONS = (
    "controller",
    "processor",
    "legitimate_interests",
    "supervisory_authority",
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "withdrawal_of_consent",
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace("’", "'").casefold()


def test_every_shipped_locale_has_its_glossary_with_its_source() -> None:
    assert set(GLOSSARY) == set(SUPPORTED_LOCALES)
    for locale, terms in GLOSSARY.items():
        assert terms["source"].endswith(f"/{locale.upper()}/TXT/?uri=CELEX:32016R0679")
        assert set(terms) - {"source"} == set(NOTIONS)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalogs_and_notices_use_the_regulation_s_terms(locale: str) -> None:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    words = [
        (m.string if isinstance(m.string, str) else " ".join(m.string))
        or (m.id if locale == "en" and isinstance(m.id, str) else "")
        for m in catalog
        if m.id
    ]
    spec = toolkit.load_spec(ROOT / "examples" / "newsletter.toml")
    words.append(toolkit.render(spec, "notice-full", locale).text)
    folded = _fold(" ".join(words))
    missing = [
        notion
        for notion in NOTIONS
        if not any(_fold(form) in folded for form in GLOSSARY[locale][notion])
    ]
    assert missing == []
