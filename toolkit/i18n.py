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
from typing import Any, Literal

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
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in value)


def isolate(value: str, locale: str) -> str:
    """``value`` between FSI and PDI when :func:`needs_isolation` says so, else unchanged."""
    return f"{FSI}{value}{PDI}" if needs_isolation(value, locale) else value


def semicolon(locale: str) -> str:
    """A semicolon as the locale writes it: French puts a no-break space before it; Greek
    writes the ano teleia (its ";" is the question mark)."""
    language = babel_locale(locale).language
    return {"fr": "\u00a0;", "el": "\u00b7"}.get(language, ";")


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
    "babel_locale",
    "country_name",
    "format_day",
    "format_duration",
    "isolate",
    "join",
    "locale_for_country",
    "needs_isolation",
    "negotiate",
    "semicolon",
    "text_direction",
    "translations",
]
