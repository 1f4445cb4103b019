"""Catalogs: compiled, complete, faithful to their placeholders; Babel formatting per locale."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from babel.support import Translations
from conftest import LOCALES, ROOT

from toolkit.errors import LocaleError
from toolkit.i18n import (
    SUPPORTED_LOCALES,
    format_day,
    format_duration,
    negotiate,
    translations,
)

LOCALES_DIR = ROOT / "toolkit" / "locales"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")
TAG = re.compile(r"</?[a-z]+>")


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"


def test_supported_locales_are_the_shipped_ones() -> None:
    shipped = {p.parts[-3] for p in LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")}
    assert shipped == set(SUPPORTED_LOCALES) >= set(LOCALES)


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_compiled_and_loaded_never_null(locale: str) -> None:
    catalog = translations(locale)
    assert type(catalog) is Translations  # not NullTranslations: a real .mo was read
    assert catalog.files and catalog.files[0].endswith(f"{locale}/LC_MESSAGES/messages.mo")
    if locale != "en":
        assert catalog.gettext("Legal basis") != "Legal basis"


def test_catalogs_match_the_template() -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    for locale in LOCALES:
        with po_path(locale).open("rb") as fh:
            ids = {m.id for m in read_po(fh) if m.id}
        assert ids == template, f"{locale}: run 'make update-catalogs'"


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_every_message_is_translated_with_its_placeholders_and_tags(locale: str) -> None:
    with po_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):  # plural: every form of the locale, each complete
            source, forms = message.id[-1], list(message.string)
            if len(forms) != catalog.num_plurals:
                problems.append(f"{len(forms)} plural forms, not {catalog.num_plurals}: {source!r}")
        else:
            source, forms = message.id, [message.string]
        for form in forms:
            if not form or message.fuzzy:
                problems.append(f"untranslated or fuzzy: {source!r}")
            elif sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(form)):
                problems.append(f"placeholders differ: {source!r}")
            elif sorted(TAG.findall(source)) != sorted(TAG.findall(form)):
                problems.append(f"HTML tags differ: {source!r}")
    assert problems == []


@pytest.mark.parametrize(
    ("iso", "locale", "words"),
    [
        ((3, 0, 0, 0), "fr", "3 ans"),
        ((3, 0, 0, 0), "en", "3 years"),
        ((3, 0, 0, 0), "de", "3 Jahre"),
        ((3, 0, 0, 0), "es", "3 años"),
        ((3, 0, 0, 0), "it", "3 anni"),
        ((1, 6, 0, 0), "fr", "1 an et 6 mois"),
        ((0, 13, 0, 0), "en", "13 months"),
        ((0, 0, 2, 3), "de", "2 Wochen und 3 Tage"),
    ],
)
def test_durations_in_words(iso: tuple[int, int, int, int], locale: str, words: str) -> None:
    # CLDR puts a no-break space between number and unit in some locales ("3\xa0ans").
    assert format_duration(iso, locale).replace("\xa0", " ") == words


def test_dates_in_the_locale() -> None:
    day = date(2026, 11, 30)
    assert format_day(day, "fr") == "30 novembre 2026"
    assert format_day(day, "de") == "30. November 2026"
    assert format_day(day, "en") == "30 November 2026"  # S-11: an EU reader's date


def test_negotiate() -> None:
    assert negotiate("fr_CA") == "fr"
    assert negotiate("it-CH") == "it"
    assert negotiate("en", ("fr", "en")) == "en"
    with pytest.raises(LocaleError, match="supported: fr, en, de, es, it"):
        negotiate("ja")
    with pytest.raises(LocaleError, match="unsupported locale 'ja'"):
        translations("ja")


def test_review_toml_records_what_was_reviewed_and_when() -> None:
    """Issue 11 item 9: each shipped locale says whether a native lawyer signed it off and
    lists its reviews, each with a date, who, what it covered and what came of it."""
    import datetime
    import tomllib

    from toolkit.i18n import LOCALES_DIR, SUPPORTED_LOCALES

    review = tomllib.loads((LOCALES_DIR / "review.toml").read_text(encoding="utf-8"))
    assert set(review) == set(SUPPORTED_LOCALES)
    for locale, entry in review.items():
        assert isinstance(entry["reviewed"], bool), locale
        assert entry["reviews"], locale
        for item in entry["reviews"]:
            assert isinstance(item["date"], datetime.date), locale
            assert all(item[key].strip() for key in ("by", "covered", "outcome")), locale


def test_each_catalog_has_a_review_status_and_the_readme_lists_it() -> None:
    """Issue 15 item 6: reviewed by a native legal reader, machine-assisted, or the source."""
    import re
    import tomllib

    from toolkit.i18n import LOCALES_DIR

    review = tomllib.loads((LOCALES_DIR / "review.toml").read_text(encoding="utf-8"))
    for locale, entry in review.items():
        assert entry["status"] in ("reviewed", "machine-assisted", "source"), locale
        assert (entry["status"] == "reviewed") is entry["reviewed"], locale
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\w\w) \| (reviewed|machine-assisted|source) \|$", readme, re.M))
    assert table == {locale: entry["status"] for locale, entry in review.items()}


def test_durations_and_lists_where_cldr_lacks_the_words() -> None:
    """Babel's CLDR data has no long duration units for Maltese ("2 y u 6 m") and abbreviates
    the Irish year ("2 bhl"), and its Maltese "or" list is English: toolkit/locales/
    cldr_gaps.toml supplies the words, by the locale's plural category."""
    from toolkit.i18n import format_duration, join

    assert format_duration((2, 6, 0, 3), "mt") == "sentejn, 6 xhur u 3 ijiem"
    assert format_duration((18, 0, 0, 0), "mt") == "18-il sena"
    assert format_duration((3, 0, 0, 0), "ga") == "3 bliana"
    assert format_duration((7, 0, 0, 0), "ga") == "7 mbliana"
    assert format_duration((0, 0, 2, 0), "ga") == "2 sheachtain"
    assert join(["a", "b", "c"], "mt", "or") == "a, b jew c"
    assert join(["a", "b"], "mt") == "a u b"
    # elsewhere CLDR's words stand
    assert format_duration((2, 6, 0, 0), "fr") == "2 ans et 6\u00a0mois"


def test_every_cldr_gap_gives_a_form_for_each_plural_category() -> None:
    import tomllib

    from babel import Locale

    from toolkit.i18n import LOCALES_DIR

    gaps = tomllib.loads((LOCALES_DIR / "cldr_gaps.toml").read_text(encoding="utf-8"))
    for locale, entries in gaps.items():
        categories = set(Locale.parse(locale).plural_form.tags) | {"other"}
        for unit, forms in entries.get("units", {}).items():
            assert set(forms) == categories, (locale, unit)
        for style, patterns in entries.get("lists", {}).items():
            assert set(patterns) == {"two", "end"}, (locale, style)


def test_portuguese_counts_as_portugal_does() -> None:
    """The pt catalog is written in European Portuguese ("autoridade de controlo"), whose
    plural puts zero with the plural ("0 registos"); Babel's rule for "pt" is Brazil's, which
    puts it with the singular, so the catalog declares Portugal's rule."""
    from toolkit.i18n import translations

    rule = translations("pt").plural
    assert rule(1) != rule(0) == rule(2)
