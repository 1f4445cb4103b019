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
from datetime import UTC, datetime
from itertools import islice
from typing import TextIO

from ..errors import LedgerError
from ..rules import RuleBook
from .decision import BLOCKING_CODES, decide, subject_of
from .ledger import Ledger
from .records import normalise_subject, subject_key

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
    at: datetime | None = None,
    book: RuleBook | None = None,
    progress: Callable[[int], object] | None = None,
) -> AuditSummary:
    """Decide every row (the phone number at index ``column``) as ``can_send`` would, at
    ``at`` (default now); each row goes to exactly one of the two writers with its reason.
    Per chunk of 5,000 rows: one query for their records, one for the suppression lists."""
    moment = datetime.now(UTC) if at is None else at.astimezone(UTC)
    upto = None if at is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    policy = ledger.policy(purpose, book)
    summary = AuditSummary()
    iterator: Iterator[Sequence[str]] = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        keys: list[str | None] = []
        for row in chunk:
            try:
                keys.append(normalise_subject(row[column] if column < len(row) else "", region))
            except LedgerError:
                keys.append(None)
        valid = [k for k in keys if k]
        histories = ledger.events_many(valid, purpose, upto)
        hits = ledger.suppressed_keys([subject_key(k) for k in valid])
        for row, key in zip(chunk, keys, strict=True):
            summary.total += 1
            if key is None:
                summary.blocked += 1
                summary.reasons[INVALID_NUMBER] += 1
                write_blocked(row, "invalid number")
                continue
            on_lists = sorted(hits.get(subject_key(key), ()))
            decision = decide(policy, subject_of(key), histories.get(key, ()), on_lists, moment)
            if decision.allowed:
                summary.sendable += 1
                write_sendable(row, decision.reason)
            else:
                summary.blocked += 1
                for code in decision.codes:
                    if code in BLOCKING_CODES:
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
