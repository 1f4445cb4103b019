"""SMS segmentation: the GSM 03.38 tables, Twilio's public vectors, and properties."""

from __future__ import annotations

import math

import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec)
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.sms import GSM7, UCS2, SmsError, analyze, segment_texts
from toolkit.sms.segments import CONCATENATED, GSM_BASIC, GSM_EXTENSION, SINGLE

# --- the tables (reference/rules.md §1) ----------------------------------------------------------


def test_basic_table_has_127_characters_each_one_septet() -> None:
    assert len(GSM_BASIC) == len(set(GSM_BASIC)) == 127  # 128 codes less ESC (0x1B)
    for char in GSM_BASIC:
        result = analyze(char)
        assert (result.encoding, result.units) == (GSM7, 1), char


def test_extension_table_characters_cost_two_septets() -> None:
    assert set(GSM_EXTENSION) == set("\f^{}\\[~]|€")
    for char in GSM_EXTENSION:
        assert (analyze(char).encoding, analyze(char).units) == (GSM7, 2), char


@pytest.mark.parametrize("char", [*"çáíóúÁÍÓÚêâîôûëï’“…", "\x1b", "\t", "\x00"])
def test_characters_outside_the_tables_force_ucs2(char: str) -> None:
    result = analyze(f"reçu {char}")
    assert result.encoding == UCS2
    assert char in {n.char for n in result.non_gsm}


def test_capital_c_cedilla_is_gsm_but_small_is_not() -> None:
    assert analyze("Ç").encoding == GSM7  # 0x09 in the basic table
    result = analyze("reçu")
    assert result.encoding == UCS2
    assert [(n.char, n.positions) for n in result.non_gsm] == [("ç", (2,))]


# --- Twilio's public test vectors (reference/rules.md §1) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("1" * 160, GSM7, 1),
        ("1" * 161, GSM7, 2),
        ("1" * 307, GSM7, 3),
        ("^" + "1" * 158, GSM7, 1),
        ("^" + "1" * 159, GSM7, 2),
        ("€" + "1" * 158, GSM7, 1),
        ("€" + "1" * 159, GSM7, 2),
        ("😜" + "1" * 68, UCS2, 1),
        ("😜" + "1" * 69, UCS2, 2),
        ("😜" + "1" * 133, UCS2, 3),
        ("🇮🇹" + "1" * 66, UCS2, 1),
        ("🇮🇹" + "1" * 67, UCS2, 2),
        ("ç" * 70, UCS2, 1),
        ("ç" * 71, UCS2, 2),
        ("😀" + "]" * 68, UCS2, 1),
        ("😀" + "]" * 69, UCS2, 2),
        ("é" + "\u0301" * 3 + "a" * 66, UCS2, 1),
        ("é" + "\u0301" * 3 + "a" * 67, UCS2, 2),
    ],
)
def test_twilio_vectors(text: str, encoding: str, segments: int) -> None:
    result = analyze(text)
    assert (result.encoding, result.segments) == (encoding, segments)


def test_units_and_remaining() -> None:
    assert analyze("😜").units == 2
    assert analyze("🇮🇹").units == 4
    result = analyze("a" * 161)
    assert result.per_segment == (153, 8)
    assert result.remaining == 145
    assert result.breaks == (153,)
    assert analyze("a" * 10).remaining == 150


def test_escape_pair_is_never_split() -> None:
    # 152 septets then an extension character (2 septets): it must open segment 2.
    text = "a" * 152 + "€" + "b" * 10
    result = analyze(text)
    assert result.per_segment == (152, 12)
    assert segment_texts(text, result) == ["a" * 152, "€" + "b" * 10]


def test_surrogate_pair_and_grapheme_are_never_split() -> None:
    text = "a" * 66 + "😜" + "b" * 10  # the emoji (2 units) does not fit in unit 67
    result = analyze(text)
    assert result.per_segment == (66, 12)
    family = "👨\u200d👩\u200d👧"  # one grapheme, 8 UTF-16 units
    text = "a" * 60 + family + "b" * 10
    assert segment_texts(text, analyze(text))[1].startswith(family)


def test_a_grapheme_longer_than_a_segment_is_split_between_code_points() -> None:
    text = "e" + "\u0301" * 100  # one cluster of 101 units
    result = analyze(text)
    assert result.per_segment == (67, 34)
    assert "".join(segment_texts(text, result)) == text


def test_empty_and_long_text() -> None:
    empty = analyze("")
    assert (empty.encoding, empty.units, empty.segments, empty.remaining) == (GSM7, 0, 0, 160)
    long = analyze("x" * 10_000)
    assert long.segments == math.ceil(10_000 / 153)
    assert sum(long.per_segment) == 10_000


def test_lone_surrogate_is_a_clear_error() -> None:
    with pytest.raises(SmsError, match=r"position 3: lone surrogate U\+D800"):
        analyze("abc\ud800")


def test_control_characters_are_counted_not_crashing() -> None:
    result = analyze("a\x00b\x07")
    assert result.encoding == UCS2
    assert [n.char for n in result.non_gsm] == ["\x00", "\x07"]
    assert result.units == 4


def test_not_a_string() -> None:
    with pytest.raises(TypeError):
        analyze(b"bytes")  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------------

INTERESTING = (
    list(GSM_BASIC + GSM_EXTENSION)
    + list("çêâ’“…\u0301\u200d\u00a0")
    + ["😜", "🇮", "🇹", "👨", "👩", "\U0001f3fb", "\ufe0f", "中", "\r\n"]
)
texts = st.lists(
    st.sampled_from(INTERESTING) | st.characters(exclude_categories=["Cs"]), max_size=400
).map("".join)


def _cost(chunk: str, encoding: str) -> int:
    if encoding == GSM7:
        return len(chunk) + sum(c in GSM_EXTENSION for c in chunk)
    return len(chunk.encode("utf-16-le")) // 2


@settings(max_examples=400, deadline=None)
@given(texts)
def test_segments_account_for_every_unit(text: str) -> None:
    result = analyze(text)
    capacity = SINGLE[result.encoding] if result.segments <= 1 else CONCATENATED[result.encoding]
    assert sum(result.per_segment) == result.units == _cost(text, result.encoding)
    assert len(result.per_segment) == result.segments
    assert all(units <= capacity for units in result.per_segment)
    assert result.segments >= math.ceil(result.units / capacity)
    assert result.remaining == capacity - (result.per_segment[-1] if result.per_segment else 0)
    if 0 < result.units <= SINGLE[result.encoding]:
        assert result.segments == 1


@settings(max_examples=400, deadline=None)
@given(texts)
def test_boundaries_never_cut_a_pair_or_grapheme(text: str) -> None:
    result = analyze(text)
    chunks = segment_texts(text, result)
    assert "".join(chunks) == text
    assert [_cost(c, result.encoding) for c in chunks] == list(result.per_segment)
    clusters = regex.findall(r"\X", text)
    edges, pos = {0}, 0
    oversized = set()
    for cluster in clusters:
        if _cost(cluster, result.encoding) > CONCATENATED[result.encoding]:
            oversized.update(range(pos, pos + len(cluster) + 1))
        pos += len(cluster)
        edges.add(pos)
    for brk in result.breaks:
        assert brk in edges or brk in oversized


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x1b")))
def test_gsm7_verdict_agrees_with_the_gsm0338_codec(text: str) -> None:
    try:
        encoded = text.encode("gsm03.38")
    except UnicodeEncodeError:
        encoded = None
    result = analyze(text)
    assert (result.encoding == GSM7) == (encoded is not None)
    if encoded is not None:
        assert result.units == len(encoded)


def test_escape_itself_is_the_one_deliberate_difference_from_the_codec() -> None:
    # The codec maps U+001B to 0x1B; it is the escape code, never a character to send.
    assert "\x1b".encode("gsm03.38") == b"\x1b"
    assert analyze("\x1b").encoding == UCS2


def test_simple_ranges_hold_no_character_that_joins_a_cluster() -> None:
    from toolkit.sms.segments import SIMPLE_RANGES

    joiner = regex.compile(
        r"[\r\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}\p{GCB=Prepend}"
        r"\p{GCB=Regional_Indicator}\p{GCB=L}\p{GCB=V}\p{GCB=T}]"
    )
    found = [
        f"U+{cp:04X}"
        for low, high in SIMPLE_RANGES
        for cp in range(low, high + 1)
        if joiner.match(chr(cp))
    ]
    assert found == []


def test_lazy_positions_match_a_full_cut() -> None:
    text = "x" * 400  # counted by arithmetic; positions computed on demand
    result = analyze(text)
    assert (result.segments, result.remaining) == (3, 153 * 3 - 400)
    assert result.per_segment == (153, 153, 94)
    assert result.breaks == (153, 306)
    ucs2 = analyze("ê" * 150)
    assert ucs2.non_gsm[0].positions == tuple(range(150))
    assert ucs2.per_segment == (67, 67, 16)
