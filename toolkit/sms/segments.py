"""How an SMS text is encoded and split: GSM 03.38 (GSM-7) or UCS-2, units and segments.

Rules (3GPP TS 23.038 tables; segment sizes as carriers and Twilio's calculator apply them):
one segment holds 160 GSM-7 septets or 70 UCS-2 units; a concatenated message holds 153 or 67
per segment (the rest carries the 6-octet user data header). An extension character costs two
septets (ESC + code). One character outside both GSM tables sends the whole message as UCS-2,
counted in UTF-16 code units. A segment boundary never cuts an escape pair, a surrogate pair or a
grapheme cluster (unless one cluster is larger than a whole segment).

The hot path is C: Latin-1 encoding and ``bytes.translate`` answer "all GSM?" and count the
extension characters; short GSM-7 analyses are prebuilt; segments are cut by arithmetic on the
positions of two-unit characters, and by grapheme clusters only where a cluster spans code
points. ``benchmarks/bench_sms.py`` measures it.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left
from typing import NamedTuple

import regex

from ..errors import ToolkitError
from .smart import Replacement, smart_encode

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

_GSM_CLASS = re.escape(GSM_BASIC + GSM_EXTENSION)
_NON_GSM = re.compile(f"[^{_GSM_CLASS}]")
_EXTENDED = re.compile(f"[{re.escape(GSM_EXTENSION)}]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Latin-1 fast path: bytes.translate (C) deletes the basic characters, leaving the others.
_LATIN1_BASIC = bytes(ord(c) for c in GSM_BASIC if ord(c) < 256)
_LATIN1_EXTENSION = bytes(ord(c) for c in GSM_EXTENSION if ord(c) < 256)
# Code points that are always a grapheme cluster of their own: Latin, Greek, Cyrillic, general
# punctuation, symbols, CJK ideographs, most emoji (not CR, combining marks, ZWJ, variation
# selectors, skin tones, flags, Hangul jamo). A text of these alone is cut by code points, fast;
# anything else goes through the full UAX #29 clustering. A test checks the ranges.
SIMPLE_RANGES = (
    (0x0000, 0x000C),
    (0x000E, 0x02FF),
    (0x0370, 0x0482),
    (0x048A, 0x058F),
    (0x2010, 0x2027),
    (0x2030, 0x205E),
    (0x20A0, 0x20CF),
    (0x2100, 0x2BFF),
    (0x3000, 0x3029),
    (0x3030, 0x303F),
    (0x4E00, 0x9FFF),
    (0x1F300, 0x1F3FA),
    (0x1F400, 0x1F64F),
    (0x1F680, 0x1F6FF),
    (0x1F900, 0x1F9FF),
)
_MAY_JOIN = re.compile(
    "[^" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in SIMPLE_RANGES) + "]"
)
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


class SmsAnalysis:
    """Encoding, size and segmentation of one SMS text.

    ``per_segment`` is the unit count of each segment, ``breaks`` the text indexes where
    segments 2, 3... start, ``remaining`` the units that fit before another segment is needed,
    ``non_gsm`` the characters that force UCS-2. With Smart Encoding, ``sent`` is the text
    after Twilio's replacements (the one counted; positions refer to it) and ``replacements``
    says what was replaced, where in the text as typed; without it ``replacements`` is None.
    The counts are computed at once; where they do
    not need them, the positions are computed on first use (analysing a million messages a
    second leaves no time for work nobody reads).
    """

    __slots__ = (
        "_breaks",
        "_non_gsm",
        "_per_segment",
        "_text",
        "encoding",
        "remaining",
        "replacements",
        "segments",
        "units",
    )

    def __init__(
        self,
        encoding: str,
        units: int,
        segments: int,
        remaining: int,
        per_segment: tuple[int, ...] | None = None,
        non_gsm: tuple[NonGsm, ...] | None = None,
        breaks: tuple[int, ...] | None = None,
        text: str = "",
        replacements: tuple[Replacement, ...] | None = None,
    ) -> None:
        self.encoding = encoding
        self.units = units
        self.segments = segments
        self.remaining = remaining
        self._per_segment = per_segment
        self._non_gsm = non_gsm
        self._breaks = breaks
        self._text = text
        self.replacements = replacements

    @property
    def sent(self) -> str | None:
        """With Smart Encoding, the text as Twilio sends it (what was counted); else None."""
        return None if self.replacements is None else self._text

    def _cut(self) -> None:
        per, breaks = _segments(self._text, self.encoding, self.units - len(self._text))
        self._per_segment, self._breaks = tuple(per), tuple(breaks)

    @property
    def per_segment(self) -> tuple[int, ...]:
        """Units in each segment."""
        if self._per_segment is None:
            self._cut()
        assert self._per_segment is not None
        return self._per_segment

    @property
    def breaks(self) -> tuple[int, ...]:
        """Text indexes where segments 2, 3... start."""
        if self._breaks is None:
            self._cut()
        assert self._breaks is not None
        return self._breaks

    @property
    def non_gsm(self) -> tuple[NonGsm, ...]:
        """Each character that forces UCS-2, with its positions."""
        if self._non_gsm is None:
            self._non_gsm = _non_gsm(self._text) if self.encoding == UCS2 else ()
        return self._non_gsm

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
            **(
                {}
                if self.replacements is None
                else {
                    "sent": self._text,
                    "replacements": [
                        {
                            "position": r.position,
                            "original": r.original,
                            "replacement": r.replacement,
                        }
                        for r in self.replacements
                    ],
                }
            ),
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SmsAnalysis) and self.as_json() == other.as_json()

    def __hash__(self) -> int:
        return hash((self.encoding, self.units, self.per_segment, self.breaks))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_json().items())
        return f"SmsAnalysis({fields})"


# Most messages are short plain GSM-7: their analyses are made once, here.
_SHORT_GSM = tuple(SmsAnalysis(GSM7, n, 1, 160 - n, (n,), (), ()) for n in range(161))
_EMPTY = SmsAnalysis(GSM7, 0, 0, 160, (), (), ())


def _gsm_cost(chunk: str) -> int:
    return len(chunk) + len(_EXTENDED.findall(chunk))


def _ucs2_cost(chunk: str) -> int:
    return len(chunk) + len(_ASTRAL.findall(chunk))


def _split_by_clusters(text: str, capacity: int, encoding: str) -> tuple[list[int], list[int]]:
    """Pack whole grapheme clusters into segments (for text where clusters span code points)."""
    cost = _gsm_cost if encoding == GSM7 else _ucs2_cost
    per: list[int] = []
    breaks: list[int] = []
    used = pos = 0
    for cluster in _GRAPHEME.findall(text):
        # A cluster larger than a segment is split between its code points, never inside one;
        # CR LF is two characters to a carrier (and to Twilio's calculator), never one block.
        pieces = [cluster] if cost(cluster) <= capacity and cluster != "\r\n" else list(cluster)
        for piece in pieces:
            size = cost(piece)
            if used + size > capacity:
                per.append(used)
                breaks.append(pos)
                used = 0
            used += size
            pos += len(piece)
    per.append(used)
    return per, breaks


def _split_by_code_points(
    length: int, heavy: list[int], capacity: int
) -> tuple[list[int], list[int]]:
    """Greedy segments when every code point is its own cluster; ``heavy`` cost two units."""

    def units(start: int, end: int) -> int:  # units of text[start:end]
        return end - start + bisect_left(heavy, end) - bisect_left(heavy, start)

    per: list[int] = []
    breaks: list[int] = []
    start = 0
    while True:
        end = min(length, start + capacity)
        while (used := units(start, end)) > capacity:
            end -= used - capacity  # each dropped code point frees at least one unit
        while end < length and units(start, end + 1) <= capacity:
            end += 1  # take back a place that dropping a two-unit character freed
        per.append(units(start, end))
        if end >= length:
            return per, breaks
        breaks.append(end)
        start = end


def _segments(
    text: str, encoding: str, heavy_count: int, may_join: bool | None = None
) -> tuple[list[int], list[int]]:
    """Cut a text longer than one SMS into concatenated segments."""
    capacity = CONCATENATED[encoding]
    if may_join if may_join is not None else _MAY_JOIN.search(text):
        return _split_by_clusters(text, capacity, encoding)
    if heavy_count == 0:
        breaks = list(range(capacity, len(text), capacity))
        return [capacity] * len(breaks) + [len(text) - capacity * len(breaks)], breaks
    pattern = _EXTENDED if encoding == GSM7 else _ASTRAL
    if heavy_count == 1:
        found = pattern.search(text)
        heavy = [found.start()] if found else []
    else:
        heavy = [m.start() for m in pattern.finditer(text)]
    return _split_by_code_points(len(text), heavy, capacity)


def _non_gsm(text: str) -> tuple[NonGsm, ...]:
    found = []
    for char in dict.fromkeys(_NON_GSM.findall(text)):
        where = [text.index(char)]
        while (nxt := text.find(char, where[-1] + 1)) >= 0:
            where.append(nxt)
        found.append(NonGsm(char, tuple(where)))
    return tuple(found)


def _gsm_units(text: str) -> int | None:
    """Septets of ``text`` when every character is in a GSM table, else None."""
    latin1 = text.encode("latin-1", "ignore")
    rest = latin1.translate(None, _LATIN1_BASIC)  # what is left is not basic GSM
    if len(latin1) == len(text):
        if not rest:
            return len(text)
        if rest.translate(None, _LATIN1_EXTENSION):
            return None  # a Latin-1 character outside GSM (ç, ê, tab...)
        return len(text) + len(rest)
    euros = text.count("€")  # beyond Latin-1, only € and the Greek capitals are GSM
    if len(text) - len(latin1) != euros and _NON_GSM.search(text):
        return None
    if rest.translate(None, _LATIN1_EXTENSION):
        return None  # a Latin-1 character outside GSM (ç, ê, tab...)
    return len(text) + len(rest) + euros


def analyze(text: str, smart_encoding: bool = False) -> SmsAnalysis:
    """Encoding, units, segments and the characters that force UCS-2, for one SMS text.

    ``smart_encoding=True`` counts what a Twilio Messaging Service with Smart Encoding sends:
    the text after its replacements (``toolkit.sms.smart``), each reported in ``replacements``.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected the SMS text as str, got {type(text).__name__}")
    if smart_encoding:
        sent, replacements = smart_encode(text)
        plain = analyze(sent)
        return SmsAnalysis(
            plain.encoding,
            plain.units,
            plain.segments,
            plain.remaining,
            plain.per_segment,
            plain.non_gsm,
            plain.breaks,
            sent,
            replacements,
        )
    units = _gsm_units(text)
    if units is not None:
        if units <= 160:
            if units == len(text):
                return _SHORT_GSM[units] if units else _EMPTY
            return SmsAnalysis(GSM7, units, 1, 160 - units, (units,), (), ())
        return _multi(text, GSM7, units)
    try:
        units = len(text.encode("utf-16-le")) // 2
    except UnicodeEncodeError as exc:
        raise SmsError(
            f"position {exc.start}: lone surrogate U+{ord(text[exc.start]):04X} cannot be sent "
            "in an SMS (it is half of a character)"
        ) from None
    if units <= 70:
        return SmsAnalysis(UCS2, units, 1, 70 - units, (units,), None, (), text)
    return _multi(text, UCS2, units)


def _multi(text: str, encoding: str, units: int) -> SmsAnalysis:
    capacity = CONCATENATED[encoding]
    may_join = _MAY_JOIN.search(text) is not None
    if units == len(text) and not may_join:
        # Every character one unit, every code point its own cluster: plain arithmetic.
        segments = -(-units // capacity)
        last = units - capacity * (segments - 1)
        return SmsAnalysis(encoding, units, segments, capacity - last, None, None, None, text)
    per, breaks = _segments(text, encoding, units - len(text), may_join)
    return SmsAnalysis(
        encoding, units, len(per), capacity - per[-1], tuple(per), None, tuple(breaks), text
    )


def segment_texts(text: str, analysis: SmsAnalysis) -> list[str]:
    """The text of each segment, cut where ``analysis`` says."""
    if not analysis.per_segment:
        return []
    bounds = [0, *analysis.breaks, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]
