"""Differential test: ``analyze`` against the published behaviour of Twilio's message segment
calculator 1.3.0 (its test cases, its Smart Encoding map, its live-billing table), stored as data
in tests/data/message-segment-calculator-1.3.0.json (sources in tests/data/README.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ROOT

from toolkit.sms import analyze
from toolkit.sms.smart import SMART_ENCODING

DATA = json.loads(
    (ROOT / "tests" / "data" / "message-segment-calculator-1.3.0.json").read_text(encoding="utf-8")
)
VECTORS: list[dict[str, Any]] = DATA["vectors"]
MAP: list[list[str]] = DATA["smart_encoding_map"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_analyze_agrees_with_the_calculator(vector: dict[str, Any]) -> None:
    got = analyze(vector["body"], smart_encoding=vector["smart_encoding"])
    assert (got.encoding, got.segments) == (vector["encoding"], vector["segments"])
    if "units" in vector:
        assert got.units == vector["units"]
    if "sent" in vector:
        assert got.sent == vector["sent"]
    if "non_gsm" in vector:
        assert [n.char for n in got.non_gsm] == vector["non_gsm"]
    if "last_segment_units" in vector:
        assert got.per_segment[-1] == vector["last_segment_units"]
    assert sum(got.per_segment) == got.units


def test_the_smart_encoding_map_is_the_calculators() -> None:
    assert [[k, v] for k, v in SMART_ENCODING.items()] == MAP
    assert SMART_ENCODING["\u200c"] == ""  # new in 1.3.0 (PR #49)


@pytest.mark.parametrize(("char", "sent"), MAP, ids=[f"U+{ord(k):04X}" for k, _ in MAP])
def test_each_smart_encoding_entry_on_and_off(char: str, sent: str) -> None:
    on = analyze(char, smart_encoding=True)
    assert on.sent == sent
    assert on.replacements is not None and [tuple(r) for r in on.replacements] == [(0, char, sent)]
    off = analyze(char)
    assert off.sent is None and off.replacements is None  # nothing replaced without the mode


def test_every_smart_encoding_entry_at_once() -> None:
    text = "".join(k for k, _ in MAP)
    got = analyze(text, smart_encoding=True)
    assert got.sent == "".join(v for _, v in MAP)
    assert got.encoding == "GSM-7"  # every replacement is GSM-7
    assert [r.position for r in got.replacements or ()] == list(range(len(MAP)))


def test_smart_encoding_json_says_what_was_replaced() -> None:
    got = analyze("“Prêt” 🏠", smart_encoding=True).as_json()
    assert got["sent"] == '"Prêt" 🏠'
    assert got["replacements"] == [
        {"position": 0, "original": "“", "replacement": '"'},
        {"position": 5, "original": "”", "replacement": '"'},
    ]
    assert "replacements" not in analyze("“Prêt”").as_json()  # the stable keys, unchanged


def test_crlf_is_two_characters_and_a_segment_may_end_between_them() -> None:
    got = analyze("a" * 152 + "\r\n" + "b" * 10)
    assert got.per_segment == (153, 11) and got.breaks == (153,)
