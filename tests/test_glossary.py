"""Core GDPR terms in each locale are the Regulation's own (issue 15 item 6): each catalog,
with the example's full notice (its spec names a processor), uses the official wording of its
language version, as i18n/glossary.toml records it."""

from __future__ import annotations

import tomllib
import unicodedata

import pytest
from babel.messages.pofile import read_po
from conftest import ROOT, build, minimal_data

import toolkit
from toolkit.i18n import LOCALES_DIR, SUPPORTED_LOCALES, translations
from toolkit.spec import Spec

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


# The EEA states' texts of the Regulation are national law, not on EUR-Lex.
EEA_SOURCES = {
    "nb": "https://lovdata.no/dokument/NL/lov/2018-06-15-38",
    "is": "https://www.althingi.is/lagas/nuna/2018090.html",
}
NO_OFFICIAL_VERSION = {"ar", "tr", "uk", "zh"}


def test_every_shipped_locale_has_its_glossary_with_its_source() -> None:
    assert set(GLOSSARY) == set(SUPPORTED_LOCALES)
    for locale, terms in GLOSSARY.items():
        if locale in EEA_SOURCES:
            assert terms["source"] == EEA_SOURCES[locale]
        elif locale in NO_OFFICIAL_VERSION:
            # no official text exists: say so, and say whose terms the catalog follows
            assert terms["official"] is False and terms["why"].strip()
            assert terms["source"].startswith("https://")
        else:
            assert terms["source"] == (
                f"https://eur-lex.europa.eu/legal-content/{locale.upper()}/TXT/"
                "?uri=CELEX:32016R0679"
            )
        assert set(terms) - {"source", "official", "why"} == set(NOTIONS)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalogs_and_notices_use_the_regulation_s_terms(
    locale: str, examples: dict[str, Spec]
) -> None:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    words = [
        (m.string if isinstance(m.string, str) else " ".join(m.string))
        or (m.id if locale == "en" and isinstance(m.id, str) else "")
        for m in catalog
        if m.id
    ]
    spec = examples["newsletter"]
    words.append(toolkit.render(spec, "notice-full", locale).text)
    folded = _fold(" ".join(words))
    missing = [
        notion
        for notion in NOTIONS
        if not any(_fold(form) in folded for form in GLOSSARY[locale][notion])
    ]
    assert missing == []


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED_LOCALES if loc != "en"])
def test_every_notice_renders_in_the_locale_with_no_english_left(
    locale: str, examples: dict[str, Spec]
) -> None:
    """Issue 15: the example's checkbox and notices in every shipped locale, each right named
    in the locale's words (glossary test above) and no English sentence of the catalog left
    in them (an untranslated entry would show its English msgid)."""
    spec = examples["newsletter"]
    with (LOCALES_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        english = [m.id for m in read_po(handle) if isinstance(m.id, str) and len(m.id) > 30]
    for artefact in ("checkbox", "notice-short", "notice-full"):
        text = toolkit.render(spec, artefact, locale).text
        assert text.strip()
        leaked = [s for s in english if "%" not in s and "<" not in s and s in text]
        assert leaked == [], (artefact, leaked[:3])


def test_greek_separates_with_the_ano_teleia_not_its_question_mark(
    examples: dict[str, Spec],
) -> None:
    spec = examples["newsletter"]
    short = toolkit.render(spec, "notice-short", "el").text
    # the purposes' details are separated as Greek does ("·"), not by ";" (a question mark)
    assert "\u00b7 " in short and "; " not in short


#: The rights a notice names, as the Regulation words them (the full notice): the glossary's
#: notions from access on, and the authority a complaint goes to.
RIGHTS = (*NOTIONS[NOTIONS.index("access") :], "supervisory_authority")
#: The same rights in the first layer, in a lay reader's verbs (S-03): catalog msgids.
SHORT_RIGHTS = (
    "access your data",
    "have it corrected or erased",
    "have its use restricted",
    "receive it in a format you can reuse",
    "object to its use",
    "withdraw your consent at any time",
    "lodge a complaint with a supervisory authority",
)


def _sms_and_phone_spec(example: Spec, locale: str) -> Spec:
    """The newsletter example's texts in ``locale`` on an SMS purpose and a phone purpose, so
    that the SMS footers, the confirmation SMS and the call script render in every locale."""
    text = example.purposes[0].text[locale]
    words = {"name": text.name, "description": text.description, "label": text.label}
    data = minimal_data(("fr",))
    data["locales"] = [locale]
    data["purposes"][0]["text"] = {locale: words}
    phone = {**data["purposes"][0], "id": "calls", "channel": "phone"}
    data["purposes"].append(phone)
    return build(data)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_artefact_renders_in_every_locale_and_names_each_right(
    locale: str, examples: dict[str, Spec]
) -> None:
    """Issue 15, done when: every artefact in every locale, each right named. The full notice
    names each right in the Regulation's words of the locale (the glossary), the first layer
    in its catalog's lay verbs; the SMS and the call script carry who and how to stop."""
    newsletter = examples["newsletter"]
    full = _fold(toolkit.render(newsletter, "notice-full", locale).text)
    unnamed = [r for r in RIGHTS if not any(_fold(f) in full for f in GLOSSARY[locale][r])]
    assert unnamed == []
    gettext = translations(locale).gettext
    short = _fold(toolkit.render(newsletter, "notice-short", locale).text)
    assert [r for r in SHORT_RIGHTS if _fold(gettext(r)) not in short] == []
    assert toolkit.render(newsletter, "checkbox", locale).text.strip()
    spec = _sms_and_phone_spec(newsletter, locale)
    for artefact, options in (
        ("sms-footer", {}),
        ("sms-footer", {"first_contact": True}),
        ("confirmation-sms", {}),
        ("call-script", {}),
    ):
        text = toolkit.render(spec, artefact, locale, **options).text
        assert "Exemple SARL" in text, (artefact, options)
        if artefact == "sms-footer":
            assert "STOP" in text and "36111" in text
