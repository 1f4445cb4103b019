"""GSM-safe rewriting: replace what forces UCS-2, change by change, so the marketer decides.

Typographic characters (’ “ ” … – — and exotic spaces) have plain GSM equivalents that change no
word. Accented letters outside GSM 03.38 (â ê î ô û ë ï ç...) can be transliterated, but that
changes spelling, so it is opt-in; ç -> Ç (the only cedilla in the GSM table) changes case, so it
is opt-in too. Emoji and other symbols outside GSM have no equivalent: ``remove_symbols`` drops
them (whole grapheme clusters: a flag or a family is one symbol), keeping every letter, so a
marketer can drop an emoji and keep the accents. Every change is reported with its position.
"""

from __future__ import annotations

import unicodedata
from typing import Literal, NamedTuple

import regex

from .segments import GSM_CHARS

Kind = Literal["typography", "space", "removed", "case", "transliteration"]

#: Replacements that keep every word: punctuation and spacing only.
TYPOGRAPHY: dict[str, str] = {
    **dict.fromkeys("’‘‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‹›", "'"),
    "…": "...",
    **dict.fromkeys("‐‑‒–—―−", "-"),
    "•": "-",
    "·": ".",
    "\t": " ",
}
SPACES = frozenset("\u00a0\u202f\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000")
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
#: Letters whose closest GSM form is not their base letter alone.
LIGATURES = {"œ": "oe", "Œ": "OE", "ﬁ": "fi", "ﬂ": "fl", "ĳ": "ij", "Ĳ": "IJ"}
_CLUSTER = regex.compile(r"\X", regex.DOTALL)


def is_symbol(cluster: str) -> bool:
    """A grapheme cluster outside GSM with no letter or digit in it: an emoji, a flag, a
    pictograph, an arrow... (what can go without changing a word)."""
    if all(c in GSM_CHARS for c in cluster):
        return False
    kinds = [unicodedata.category(c) for c in cluster]
    return any(k[0] == "S" for k in kinds) and not any(k[0] in "LN" for k in kinds)


class Change(NamedTuple):
    """One character rewritten: where, what it was, what it became, and why."""

    position: int
    original: str
    replacement: str
    kind: Kind


def _transliterate(char: str) -> str | None:
    if char in LIGATURES:
        return LIGATURES[char]
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    if base and base != char and all(c in GSM_CHARS for c in base):
        return base
    return None


def _replacement(
    char: str, transliterate: bool, allow_case_change: bool
) -> tuple[str, Kind] | None:
    if char in TYPOGRAPHY:
        return TYPOGRAPHY[char], "typography"
    if char in SPACES:
        return " ", "space"
    if char in INVISIBLE:
        return "", "removed"
    if char == "ç" and allow_case_change:
        return "Ç", "case"
    if transliterate:
        plain = _transliterate(char)
        if plain is not None:
            return plain, "transliteration"
    return None


def gsm_safe(
    text: str,
    *,
    transliterate: bool = False,
    allow_case_change: bool = False,
    remove_symbols: bool = False,
) -> tuple[str, tuple[Change, ...]]:
    """Rewrite ``text`` towards GSM-7; return the new text and every change made.

    Characters with no safe replacement (emoji, other scripts) stay as they are, unless
    ``remove_symbols`` drops the symbols among them (one ``removed`` change per cluster).
    """
    out: list[str] = []
    changes: list[Change] = []
    symbols: dict[int, int] = {}  # start -> end of each symbol cluster to drop
    if remove_symbols:
        for match in _CLUSTER.finditer(text):
            if is_symbol(match.group()):
                symbols[match.start()] = match.end()
    skip_to = 0
    for i, char in enumerate(text):
        if i < skip_to:
            continue
        if i in symbols:
            skip_to = symbols[i]
            start = i
            after = text[skip_to : skip_to + 1]
            if (
                i
                and text[i - 1] == " " == out[-1]
                and (not after or after.isspace() or after in ".,;:!?")
            ):
                out.pop()  # "Prêt 🏠 !" -> "Prêt !", not "Prêt  !"
                start = i - 1
            changes.append(Change(start, text[start:skip_to], "", "removed"))
            continue
        found = None if char in GSM_CHARS else _replacement(char, transliterate, allow_case_change)
        if found is None:
            out.append(char)
        else:
            out.append(found[0])
            changes.append(Change(i, char, found[0], found[1]))
    return "".join(out), tuple(changes)
