"""Recognising inbound SMS replies: opt-out (STOP), opt-in (START), help, or anything else.

A reply matches only as a whole message, after trimming, case folding, accent folding and
dropping trailing punctuation: "Arrêt !" is an opt-out, "please stop calling me at 6" is not.
The keyword lists are data (``keywords.toml``), extended per spec under ``[sms.keywords]``.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from ..spec import Spec

ReplyKind = Literal["opt-out", "confirm", "opt-in", "help", "other"]
KINDS: dict[str, ReplyKind] = {
    "opt_out": "opt-out",
    "confirm": "confirm",
    "opt_in": "opt-in",
    "help": "help",
}
_EDGE = " \t\r\n.,;:!?¡¿\"'«»“”‘’()[]-_*~"


class Reply(NamedTuple):
    """What an inbound SMS asks for, and the keyword it matched."""

    kind: ReplyKind
    keyword: str | None
    normalized: str


def fold(text: str) -> str:
    """Trim, casefold, strip accents and edge punctuation, collapse spaces: 'Arrêt !' -> 'arret'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.strip(_EDGE).split())


@cache
def _shipped() -> dict[str, dict[str, frozenset[str]]]:
    """keywords.toml: per kind, per locale ("common" for every locale), folded."""
    data = tomllib.loads(Path(__file__).with_name("keywords.toml").read_text(encoding="utf-8"))
    return {
        kind: {locale: frozenset(fold(w) for w in words) for locale, words in by_locale.items()}
        for kind, by_locale in data.items()
    }


@cache
def default_keywords() -> dict[str, frozenset[str]]:
    """The shipped keyword lists, every locale together, folded."""
    return {kind: frozenset().union(*by_locale.values()) for kind, by_locale in _shipped().items()}


def confirm_words(locales: Iterable[str]) -> frozenset[str]:
    """The words that confirm a consent from people of these locales: the common ones and
    each locale's own. A confirmation must be unambiguous, so a word is taken only in the
    languages where it means yes (Irish "tá" is yes; "ta" in English is thanks)."""
    by_locale = _shipped()["confirm"]
    return by_locale.get("common", frozenset()).union(
        *(by_locale.get(loc, frozenset()) for loc in locales)
    )


def keyword_sets(
    opt_out: Iterable[str] = (), opt_in: Iterable[str] = (), help: Iterable[str] = ()
) -> dict[str, frozenset[str]]:
    """The shipped lists extended with extra words (e.g. a spec's own)."""
    base = default_keywords()
    extra = {"opt_out": opt_out, "opt_in": opt_in, "help": help}
    return {kind: base[kind] | {fold(w) for w in extra.get(kind, ())} for kind in base}


def spec_keywords(spec: Spec) -> dict[str, frozenset[str]]:
    """The shipped lists plus the spec's own words and its opt-out keyword; a consent is
    confirmed only by the words of the spec's locales. Opt-out words of every language stay:
    a stop in any language is honoured."""
    if spec.sms is None:
        words = dict(default_keywords())
    else:
        extra = spec.sms.keywords
        words = keyword_sets((*extra.opt_out, spec.sms.opt_out_keyword), extra.opt_in, extra.help)
    words["confirm"] = confirm_words(spec.locales)
    return words


def parse_reply(text: str, keywords: dict[str, frozenset[str]] | None = None) -> Reply:
    """Classify an inbound SMS as opt-out, confirm (YES, OUI, JA, SI), opt-in, help or other
    (whole-message match)."""
    normalized = fold(text)
    sets = default_keywords() if keywords is None else keywords
    for kind in ("opt_out", "confirm", "opt_in", "help"):  # opt-out first: it always wins
        if normalized in sets[kind]:
            return Reply(KINDS[kind], normalized, normalized)
    return Reply("other", None, normalized)
