"""How an SMS text is encoded and split: GSM 03.38 (GSM-7) or UCS-2, units and segments.

Rules (3GPP TS 23.038 tables; segment sizes as carriers and Twilio's calculator apply them):
one segment holds 160 GSM-7 septets or 70 UCS-2 units; a concatenated message holds 153 or 67
per segment (the rest carries the 6-octet user data header). An extension character costs two
septets (ESC + code). One character outside both GSM tables sends the whole message as UCS-2,
counted in UTF-16 code units. A segment boundary never cuts an escape pair, a surrogate pair or a
grapheme cluster (unless one cluster is larger than a whole segment).

The hot path is C: ``codecs.charmap_encode`` answers "all GSM?" and ``bytes.translate`` counts
the extension characters, so ``analyze`` runs at over a million messages a second.
"""

from __future__ import annotations

import codecs
import itertools
from typing import NamedTuple

import regex

from ..errors import ToolkitError

#: GSM 03.38 basic character set in table order, without 0x1B (the escape to the extension).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: each costs two septets (ESC + code).
GSM_EXTENSION = "\f^{}\\[~]|€"
GSM_CHARS = frozenset(GSM_BASIC + GSM_EXTENSION)

GSM7 = "GSM-7"
UCS2 = "UCS-2"
SINGLE = {GSM7: 160, UCS2: 70}
CONCATENATED = {GSM7: 153, UCS2: 67}

# A charmap codec: basic characters to codes 0-126, extension characters to 128-137.
_TABLE = GSM_BASIC + "\ufffe" + GSM_EXTENSION
_GSM_MAP = codecs.charmap_build(_TABLE + "\ufffe" * (256 - len(_TABLE)))
_BASIC_CODES = bytes(range(len(GSM_BASIC)))
_GRAPHEME = regex.compile(r"\X", regex.DOTALL)


class SmsError(ToolkitError, ValueError):
    """A text that cannot be sent as an SMS (e.g. a lone surrogate)."""


class NonGsm(NamedTuple):
    """A character outside GSM 03.38 and where it stands (indexes into the text)."""

    char: str
    positions: tuple[int, ...]

    @property
    def codepoint(self) -> str:
        """``U+00EA`` style name of the character."""
        return f"U+{ord(self.char):04X}"


class SmsAnalysis(NamedTuple):
    """Encoding, size and segmentation of one SMS text.

    ``breaks`` are the text indexes where segments 2, 3... start; ``remaining`` is how many
    units fit before another segment is needed.
    """

    encoding: str
    units: int
    segments: int
    remaining: int
    per_segment: tuple[int, ...]
    non_gsm: tuple[NonGsm, ...]
    breaks: tuple[int, ...]

    def as_json(self) -> dict[str, object]:
        """Stable JSON form (documented in the README)."""
        return {
            "encoding": self.encoding,
            "units": self.units,
            "segments": self.segments,
            "remaining": self.remaining,
            "per_segment": list(self.per_segment),
            "non_gsm": [
                {"char": n.char, "codepoint": n.codepoint, "positions": list(n.positions)}
                for n in self.non_gsm
            ],
            "breaks": list(self.breaks),
        }


# Most messages are short plain GSM-7: their analyses are made once, here.
_SHORT_GSM = tuple(SmsAnalysis(GSM7, n, 1, 160 - n, (n,), (), ()) for n in range(161))
_EMPTY = SmsAnalysis(GSM7, 0, 0, 160, (), (), ())


def _gsm_cost(chunk: str) -> int:
    return len(chunk) + sum(c in GSM_EXTENSION for c in chunk)


def _ucs2_cost(chunk: str) -> int:
    return len(chunk) + sum(ord(c) > 0xFFFF for c in chunk)


def _split(text: str, capacity: int, encoding: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Pack whole grapheme clusters into segments of ``capacity`` units."""
    cost = _gsm_cost if encoding == GSM7 else _ucs2_cost
    per: list[int] = []
    breaks: list[int] = []
    used = pos = 0
    for cluster in _GRAPHEME.findall(text):
        # A cluster larger than a segment is split between its code points, never inside one.
        pieces = [cluster] if cost(cluster) <= capacity else list(cluster)
        for piece in pieces:
            size = cost(piece)
            if used + size > capacity:
                per.append(used)
                breaks.append(pos)
                used = 0
            used += size
            pos += len(piece)
    per.append(used)
    return tuple(per), tuple(breaks)


def _non_gsm(text: str) -> tuple[NonGsm, ...]:
    found: dict[str, list[int]] = {}
    for i, char in enumerate(text):
        if char not in GSM_CHARS:
            found.setdefault(char, []).append(i)
    return tuple(NonGsm(char, tuple(where)) for char, where in found.items())


def analyze(text: str) -> SmsAnalysis:
    """Encoding, units, segments and the characters that force UCS-2, for one SMS text."""
    if not isinstance(text, str):
        raise TypeError(f"expected the SMS text as str, got {type(text).__name__}")
    encoded = codecs.charmap_encode(text, "ignore", _GSM_MAP)[0]
    if len(encoded) == len(text):  # every character is in a GSM table
        units = len(text) + len(encoded.translate(None, _BASIC_CODES))
        if units <= 160:
            if units == len(text):
                return _SHORT_GSM[units] if units else _EMPTY
            return SmsAnalysis(GSM7, units, 1, 160 - units, (units,), (), ())
        return _multi(text, GSM7, units, ())
    try:
        units = len(text.encode("utf-16-le")) // 2
    except UnicodeEncodeError as exc:
        raise SmsError(
            f"position {exc.start}: lone surrogate U+{ord(text[exc.start]):04X} cannot be sent "
            "in an SMS (it is half of a character)"
        ) from None
    non_gsm = _non_gsm(text)
    if units <= 70:
        return SmsAnalysis(UCS2, units, 1, 70 - units, (units,), non_gsm, ())
    return _multi(text, UCS2, units, non_gsm)


def _multi(text: str, encoding: str, units: int, non_gsm: tuple[NonGsm, ...]) -> SmsAnalysis:
    capacity = CONCATENATED[encoding]
    per, breaks = _split(text, capacity, encoding)
    return SmsAnalysis(encoding, units, len(per), capacity - per[-1], per, non_gsm, breaks)


def segment_texts(text: str, analysis: SmsAnalysis) -> list[str]:
    """The text of each segment, cut where ``analysis`` says."""
    if not analysis.per_segment:
        return []
    bounds = [0, *analysis.breaks, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]
