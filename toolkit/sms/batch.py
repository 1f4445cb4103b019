"""A campaign file in, a per-recipient report out: encoding and segments of every message.

Streams row by row (constant memory whatever the file's size). The body template takes the CSV's
columns as ``{column}`` placeholders, substituted as plain text: nothing is evaluated.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .preview import SEPARATOR
from .segments import UCS2, SmsError, analyze

if TYPE_CHECKING:
    from ..spec import Spec

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
REPORT_COLUMNS = ("encoding", "units", "segments", "non_gsm")


def compile_template(template: str) -> tuple[list[str], list[str]]:
    """Split ``Bonjour {first_name}`` into literal parts and column names (``{{`` is a brace)."""
    literals, names = [""], []
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        literals[-1] += template[pos : match.start()]
        token = match.group(0)
        if token in ("{{", "}}"):
            literals[-1] += token[0]
        elif match.group(1):
            names.append(match.group(1))
            literals.append("")
        else:
            raise SmsError(
                f"template position {match.start()}: lone {token!r}; write a column as "
                "{first_name}, a literal brace as {{ or }}"
            )
        pos = match.end()
    literals[-1] += template[pos:]
    return literals, names


@dataclass
class BatchTotals:
    """What a campaign costs: messages, segments, and how many went UCS-2 and why."""

    messages: int = 0
    segments: int = 0
    ucs2: int = 0
    ucs2_chars: Counter[str] = field(default_factory=Counter)
    by_segments: Counter[int] = field(default_factory=Counter)

    def as_json(self) -> dict[str, object]:
        """Stable JSON form (documented in the README)."""
        return {
            "messages": self.messages,
            "segments": self.segments,
            "ucs2_messages": self.ucs2,
            "ucs2_characters": {f"U+{ord(c):04X} {c}": n for c, n in self.ucs2_chars.most_common()},
            "messages_by_segments": {str(k): v for k, v in sorted(self.by_segments.items())},
        }


def run_batch(
    spec: Spec,
    rows: Iterable[list[str]],
    columns: list[str],
    template: str,
    locale: str,
    write: Callable[[list[str]], object],
    *,
    first_contact: bool = False,
    progress: Callable[[int], object] | None = None,
) -> BatchTotals:
    """Render and analyse one message per row (a list of values in ``columns`` order);
    ``write`` gets each report row: the row's values, then encoding, units, segments, non_gsm."""
    from ..render import render  # the renderer (Jinja2, Babel) only once a batch runs

    literals, names = compile_template(template)
    missing = [n for n in dict.fromkeys(names) if n not in columns]
    if missing:
        raise SmsError(
            f"the template uses column {missing[0]!r}, which the file does not have "
            f"(columns: {', '.join(columns) or 'none'})"
        )
    if spec.sms is None:
        raise SmsError("the spec has no [sms] section, so there is no SMS footer")
    footer = SEPARATOR + render(spec, "sms-footer", locale, first_contact=first_contact).text
    totals = BatchTotals()
    tail = literals[1:]
    where = [columns.index(name) for name in names]
    for number, row in enumerate(rows, start=1):
        parts = [literals[0]]
        for index, literal in zip(where, tail, strict=True):
            parts.append(row[index] if index < len(row) else "")
            parts.append(literal)
        body = "".join(parts).strip()
        if not body:
            raise SmsError(f"row {number}: the message body is empty")
        try:
            result = analyze(body + footer)
        except SmsError as exc:
            raise SmsError(f"row {number}: {exc}") from None
        totals.messages += 1
        totals.segments += result.segments
        totals.by_segments[result.segments] += 1
        reasons = ""
        if result.encoding == UCS2:
            totals.ucs2 += 1
            totals.ucs2_chars.update(n.char for n in result.non_gsm)
            reasons = " ".join(n.char for n in result.non_gsm)
        write(
            [
                *row,
                result.encoding,
                str(result.units),
                str(result.segments),
                reasons,
            ]
        )
        if progress is not None and number % 10_000 == 0:
            progress(number)
    return totals
