"""Contact-list audit: split any contact file into who may be contacted and who may not, and why.

Built for the case the CNIL sanctioned: a purchased or scraped file of numbers. Every row is
checked against the ledger (latest event decides; no consent, no message), streamed in chunks
so a file of millions of rows runs in constant memory.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TextIO

from ..errors import LedgerError
from .decision import decide
from .ledger import Ledger
from .records import normalise_subject

INVALID_NUMBER = "invalid-number"  # the reason code of a row whose number cannot be read
PHONE_COLUMNS = ("phone", "mobile", "msisdn", "telephone", "tel", "number", "to")
CHUNK = 5000


@dataclass
class AuditSummary:
    """How many rows may be contacted, how many may not, and the reasons."""

    total: int = 0
    sendable: int = 0
    blocked: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # blocked rows per reason code

    def lines(self) -> list[str]:
        """The summary as text lines."""
        out = [f"{self.total} contacts: {self.sendable} sendable, {self.blocked} blocked"]
        out += [f"  {count:>8}  {code}" for code, count in self.reasons.most_common()]
        return out


def phone_column(columns: list[str], wanted: str | None) -> str:
    """The column holding the phone numbers: the one asked for, or a usual name."""
    if wanted is not None:
        if wanted not in columns:
            raise LedgerError(f"no column {wanted!r} in the file (columns: {', '.join(columns)})")
        return wanted
    for name in columns:
        if name.strip().lower() in PHONE_COLUMNS:
            return name
    raise LedgerError(
        f"no phone column in the file (columns: {', '.join(columns) or 'none'}); "
        f"name one with --column or call it one of {', '.join(PHONE_COLUMNS)}"
    )


def run_audit(
    ledger: Ledger,
    purpose: str,
    rows: Iterable[Sequence[str]],
    column: int,
    write_sendable: Callable[[Sequence[str], str], object],
    write_blocked: Callable[[Sequence[str], str], object],
    *,
    region: str | None = None,
    progress: Callable[[int], object] | None = None,
) -> AuditSummary:
    """Decide every row (the phone number at index ``column``); each row goes to exactly one
    of the two writers with its reason."""
    basis = ledger.purpose_basis(purpose)
    summary = AuditSummary()
    iterator: Iterator[Sequence[str]] = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        keys: list[str | None] = []
        for row in chunk:
            try:
                keys.append(normalise_subject(row[column] if column < len(row) else "", region))
            except LedgerError:
                keys.append(None)
        latest = ledger.latest_many([k for k in keys if k], purpose)
        for row, key in zip(chunk, keys, strict=True):
            summary.total += 1
            if key is None:
                summary.blocked += 1
                summary.reasons[INVALID_NUMBER] += 1
                write_blocked(row, "invalid number")
                continue
            decision = decide(latest.get(key), basis)
            if decision.allowed:
                summary.sendable += 1
                write_sendable(row, decision.reason)
            else:
                summary.blocked += 1
                for code in decision.codes:
                    summary.reasons[code] += 1
                write_blocked(row, decision.reason)
        if progress is not None:
            progress(summary.total)
    return summary


def csv_writer(handle: TextIO, columns: list[str]) -> Callable[[Sequence[str], str], object]:
    """A writer of audited rows: the file's columns plus ``reason``."""
    writer = csv.writer(handle)
    writer.writerow([*columns, "reason"])

    def write(row: Sequence[str], reason: str) -> object:
        return writer.writerow([*row, reason])

    return write
