"""Step 3 of the pipeline: locales. Negotiation, gettext catalogs and Babel formatting.

Legal boilerplate lives in gettext catalogs under ``toolkit/locales`` (compiled from .po at
build or install time); the spec supplies its own texts per locale.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _format_date
from babel.languages import get_official_languages
from babel.lists import format_list
from babel.support import Translations
from babel.units import format_unit

from .errors import LocaleError

LOCALES_DIR = Path(__file__).with_name("locales")
DOMAIN = "messages"
SUPPORTED_LOCALES: tuple[str, ...] = (
    "fr",
    "en",
    "de",
    "es",
    "it",
    "nl",
    "pt",
    "pl",
    "sv",
    "ro",
    "cs",
    "da",
    "fi",
    "el",
    "sk",
    "sl",
    "hu",
    "hr",
    "nb",
    "is",
    "bg",
    "et",
    "lv",
    "lt",
    "mt",
    "ga",
    "uk",
    "tr",
    "ar",
    "zh",
)
_LOCALE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")
TERRITORY_CODES = frozenset(
    str(code)
    for code in Locale.parse("en").territories
    if str(code).isalpha() and len(str(code)) == 2
)


def negotiate(requested: str, available: tuple[str, ...] = SUPPORTED_LOCALES) -> str:
    """Pick the available locale for a requested one: exact match, then its language.

    ``fr_CA`` and ``fr-CA`` fall back to ``fr``; anything else raises ``LocaleError``.
    """
    if requested in available:  # the common case, without parsing (once per web request)
        return requested
    wanted = None
    if _LOCALE_TAG.fullmatch(requested):
        try:
            wanted = Locale.parse(requested.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            wanted = None
    if wanted is not None:
        for candidate in (str(wanted), wanted.language):
            if candidate in available:
                return candidate
    raise LocaleError(f"unsupported locale {requested!r}; supported: {', '.join(available)}")


@cache
def translations(locale: str) -> Translations:
    """The compiled catalog of a shipped locale; never a silent ``NullTranslations``."""
    if locale not in SUPPORTED_LOCALES:
        raise LocaleError(
            f"unsupported locale {locale!r}; supported: {', '.join(SUPPORTED_LOCALES)}"
        )
    mo = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        raise LocaleError(
            f"the catalog for {locale!r} is not compiled ({mo} is missing): run "
            "'make catalogs' or reinstall the package"
        )
    with mo.open("rb") as fh:
        return Translations(fh, domain=DOMAIN)


@cache
def babel_locale(locale: str) -> Locale:
    """The Babel ``Locale`` object for a locale code (cached)."""
    return Locale.parse(locale)


_UNITS = ("duration-year", "duration-month", "duration-week", "duration-day")


def format_duration(parts: tuple[int, int, int, int], locale: str) -> str:
    """Format (years, months, weeks, days) in words: '1 an et 6 mois', '3 Jahre'."""
    loc = babel_locale(locale)
    words = [_unit(n, unit, locale, loc) for n, unit in zip(parts, _UNITS, strict=True) if n]
    return join(words, locale)


@cache
def _gaps() -> dict[str, Any]:
    """The words CLDR lacks for a shipped locale (toolkit/locales/cldr_gaps.toml)."""
    return tomllib.loads((LOCALES_DIR / "cldr_gaps.toml").read_text(encoding="utf-8"))


def _unit(n: int, unit: str, locale: str, loc: Locale) -> str:
    forms = _gaps().get(locale, {}).get("units", {}).get(unit)
    if forms is None:
        return str(format_unit(n, unit, length="long", locale=loc))
    return str(forms[loc.plural_form(n)]).replace("{0}", str(n))


#: English notices are read in the EU: dates the Irish way, "30 November 2026" (S-11).
_DATE_LOCALES = {"en": "en_IE"}


def format_day(day: date, locale: str) -> str:
    """A date in the locale's long form: '1 décembre 2026', '1 December 2026'."""
    return _format_date(day, format="long", locale=babel_locale(_DATE_LOCALES.get(locale, locale)))


def locale_for_country(country: str | None, available: tuple[str, ...]) -> str | None:
    """The first of ``available`` that is an official language of ``country`` (a reply to a
    German number in German, L-06), or None when none is."""
    if country is None:
        return None
    for language in get_official_languages(country, de_facto=True):
        if language in available:
            return str(language)
    return None


@cache
def text_direction(locale: str) -> Literal["ltr", "rtl"]:
    """The direction the locale's script is written in (CLDR's character order): ``ar`` is
    ``"rtl"``, the others ``"ltr"``. Templates set it as ``dir`` on each artefact's root, so an
    artefact keeps its direction when embedded in a page of the other direction."""
    return "rtl" if babel_locale(locale).text_direction == "rtl" else "ltr"


#: Unicode's first strong isolate and pop directional isolate (UAX #9): the plain-text
#: counterpart of HTML's <bdi>, for SMS and other text artefacts.
FSI, PDI = "\u2068", "\u2069"


def needs_isolation(value: str, locale: str) -> bool:
    """Whether a value inserted in the locale's text must be isolated from it: every value in
    a right-to-left text (a Latin name, a URL, a number), and a value containing right-to-left
    letters in a left-to-right text. Without it, the bidirectional algorithm reorders the
    punctuation around the value ("STOP to 36111." read from the wrong end)."""
    if text_direction(locale) == "rtl":
        return bool(value)
    if value.isascii():  # the common case, without looking at each character
        return False
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in value)


def value_direction(value: str) -> Literal["ltr", "rtl"]:
    """The direction of a value by its first strong character (UAX #9 rules P2 and P3): a
    phone number or a date, which has none, is left to right."""
    for ch in value:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def isolate(value: str, locale: str) -> str:
    """``value`` between FSI and PDI when :func:`needs_isolation` says so, else unchanged."""
    return f"{FSI}{value}{PDI}" if needs_isolation(value, locale) else value


class Punctuation(NamedTuple):
    """The punctuation a template puts between the words it assembles, as the locale writes
    it. Most locales write the Latin marks; Chinese writes full-width ones with no space
    after them, Arabic its own comma and semicolon."""

    comma: str = ", "  # between the parts of a line: name, legal form; address, website
    enum: str = ", "  # between the items of a short list (data categories)
    semicolon: str = "; "  # between the details of a purpose in the first layer
    stop: str = "."  # the full stop the template adds
    open: str = "("
    close: str = ")"
    space: str = " "  # between sentences the template puts side by side
    term: str = ": "  # between a definition term and its description, in the text form


_PUNCTUATION = {
    # French: a no-break space before ";" and ":" (the text form keeps its historic " : ").
    "fr": Punctuation(semicolon="\u00a0; ", term=" : "),
    # Greek: the ano teleia, since its ";" is the question mark.
    "el": Punctuation(semicolon="\u00b7 "),
    "ar": Punctuation(comma="\u060c ", enum="\u060c ", semicolon="\u061b "),
    "zh": Punctuation(
        comma="\uff0c",
        enum="\u3001",
        semicolon="\uff1b",
        stop="\u3002",
        open="\uff08",
        close="\uff09",
        space="",
        term="\uff1a",
    ),
}


def punctuation(locale: str) -> Punctuation:
    """The locale's :class:`Punctuation`."""
    return _PUNCTUATION.get(babel_locale(locale).language, Punctuation())


#: Full-width marks after which (and before which) Chinese writes no space.
_FULL_WIDTH = "\u3001\u3002\uff08\uff09\uff0c\uff1a\uff1b\uff1f\uff01"
_TAGS = r"(?:</?[a-zA-Z][^<>]*>)*"
_SPACE_AFTER = re.compile(rf"([{_FULL_WIDTH}]{_TAGS})[ \t]+")
_SPACE_BEFORE = re.compile(rf"[ \t]+({_TAGS}[{_FULL_WIDTH}])")


def tighten(text: str, locale: str) -> str:
    """Drop the spaces a template puts between sentences and around marks where the locale
    writes none (Chinese: "。 保存" is "。保存"). Unchanged for other locales."""
    if punctuation(locale).space:
        return text
    return _SPACE_BEFORE.sub(r"\1", _SPACE_AFTER.sub(r"\1", text))


def country_name(code: str, locale: str) -> str:
    """A country's name in the locale's words."""
    return str(babel_locale(locale).territories.get(code, code))


def join(items: list[str], locale: str, style: Literal["standard", "or"] = "standard") -> str:
    """Join words the locale's way: 'a, b et c' (``style="or"``: 'a, b ou c')."""
    patterns = _gaps().get(locale, {}).get("lists", {}).get(style)
    if patterns is None or len(items) < 2:
        return format_list(items, style=style, locale=babel_locale(locale))
    if len(items) == 2:
        return str(patterns["two"]).replace("{0}", items[0]).replace("{1}", items[1])
    head = ", ".join(items[:-1])
    return str(patterns["end"]).replace("{0}", head).replace("{1}", items[-1])


__all__ = [
    "SUPPORTED_LOCALES",
    "Punctuation",
    "babel_locale",
    "country_name",
    "format_day",
    "format_duration",
    "isolate",
    "join",
    "locale_for_country",
    "needs_isolation",
    "negotiate",
    "punctuation",
    "text_direction",
    "tighten",
    "translations",
    "value_direction",
]
