"""Contact-list audit: split any contact file into who may be contacted and who may not, and why.

Built for the case the CNIL sanctioned: a purchased or scraped file of numbers. Every row is
decided as ``can_send`` decides (consent, the channel law of its market, suppression lists...),
streamed in chunks so a file of millions of rows runs in constant memory, on every core.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TextIO

from ..csvio import SafeWriter
from ..errors import LedgerError
from ..rules import RuleBook
from .decision import BLOCKING_CODES, Policy, decide, subject_of
from .ledger import Ledger
from .records import iso_utc, read_subject, subject_key

INVALID_NUMBER = "invalid-number"  # the reason code of a row whose number cannot be read
INVALID_DATE = "invalid-date"  # a row whose obtained_at cannot be read
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


# A row's verdict as a worker returns it: allowed, the reasons in words, the blocking codes.
Verdict = tuple[bool, str, tuple[str, ...]]


@dataclass
class _Job:
    """What deciding a chunk needs; a forked worker inherits it (nothing is pickled)."""

    ledger: Ledger
    purpose: str
    region: str | None
    moment: datetime
    upto: str | None
    book: RuleBook | None


_JOB: _Job | None = None


def _obtained(value: str) -> datetime | None:
    """An ``obtained_at`` cell: an ISO date or time (UTC when it says no zone)."""
    moment = datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decide_chunk(
    values: Sequence[str], job: _Job | None = None, obtained: Sequence[str] | None = None
) -> list[Verdict]:
    """The verdict of each number of a chunk: one query for their records, one for the lists,
    then the decision of each, exactly as ``can_send`` would decide it. ``obtained``, when the
    file has the column, is when each row's data was obtained (Art. 14(3)(a))."""
    job = job or _JOB
    assert job is not None
    policy = job.ledger.policy(job.purpose, job.book)
    keys: list[str | None] = []
    facts: dict[str, tuple[str | None, int] | None] = {}
    for value in values:
        try:
            read, facts_of = read_subject(value, job.region)
        except LedgerError:
            keys.append(None)
            continue
        keys.append(read)
        facts[read] = facts_of
    valid = [k for k in keys if k]
    histories = job.ledger.events_many(valid, job.purpose, job.upto)
    hashed = {k: subject_key(k) for k in valid}
    hits = job.ledger.suppressed_keys(list(hashed.values()))
    # Without a record or a list entry, a number's verdict depends only on its country and
    # kind, unless a contact window reads its time zone: such verdicts are worked out once.
    windows = _windowed(policy)
    alike: dict[tuple[str | None, int] | None, Verdict] = {}
    verdicts: list[Verdict] = []
    invalid: Verdict = (False, "invalid number", (INVALID_NUMBER,))
    for index, key in enumerate(keys):
        if key is None:
            verdicts.append(invalid)
            continue
        when = None
        if obtained is not None and obtained[index].strip():
            try:
                when = _obtained(obtained[index])
            except ValueError:
                verdicts.append(
                    (False, f"obtained_at {obtained[index]!r} is not a date", (INVALID_DATE,))
                )
                continue
        history = histories.get(key, ())
        listed = hits.get(hashed[key])
        kind = facts[key]
        plain = not history and not listed and not windows and when is None
        if plain and kind in alike:
            verdicts.append(alike[kind])
            continue
        decision = decide(
            policy, subject_of(key, kind), history, sorted(listed or ()), job.moment, when
        )
        verdict = (
            decision.allowed,
            decision.reason,
            tuple(r.code for r in decision.reasons if r.code in BLOCKING_CODES),
        )
        if plain:
            alike[kind] = verdict
        verdicts.append(verdict)
    return verdicts


def _windowed(policy: Policy) -> bool:
    """Whether a contact window (the law's, or the spec's for SMS) may apply to the purpose."""
    if policy.spec is None or policy.purpose is None:
        return False
    channel = policy.purpose.channel
    if channel == "sms" and policy.spec.sms is not None and policy.spec.sms.sending_window:
        return True
    return any(
        rule.window is not None and channel in rule.channels
        for pack in policy.book.packs.values()
        for rule in pack.rules
    )


def run_audit(
    ledger: Ledger,
    purpose: str,
    rows: Iterable[Sequence[str]],
    column: int,
    write_sendable: Callable[[Sequence[str], str], object],
    write_blocked: Callable[[Sequence[str], str], object],
    *,
    obtained_column: int | None = None,
    region: str | None = None,
    at: datetime | None = None,
    book: RuleBook | None = None,
    progress: Callable[[int], object] | None = None,
    workers: int = 1,
) -> AuditSummary:
    """Decide every row (the phone number at index ``column``) as ``can_send`` would, at
    ``at`` (default now); each row goes to exactly one of the two writers with its reason, in
    the file's order. ``obtained_column``: when each row's data was obtained, for a purpose
    whose data comes from a source (blocked after a month without a contact, Art. 14(3)(a)).
    Chunks of 5,000 rows; with ``workers`` > 1, chunks are decided in that
    many forked processes (each with its own connection), at most two chunks per worker in
    flight, so memory stays flat."""
    global _JOB
    moment = datetime.now(UTC) if at is None else at.astimezone(UTC)
    upto = None if at is None else iso_utc(moment)
    job = _Job(ledger, purpose, region, moment, upto, book)
    ledger.policy(purpose, book)  # an unknown purpose fails here, before any work
    summary = AuditSummary()
    iterator: Iterator[Sequence[str]] = iter(rows)

    def chunks() -> Iterator[list[Sequence[str]]]:
        while chunk := list(islice(iterator, CHUNK)):
            yield chunk

    def values(chunk: Sequence[Sequence[str]], at: int = column) -> list[str]:
        return [row[at] if at < len(row) else "" for row in chunk]

    def dates(chunk: Sequence[Sequence[str]]) -> list[str] | None:
        return None if obtained_column is None else values(chunk, obtained_column)

    def write(chunk: Sequence[Sequence[str]], verdicts: Sequence[Verdict]) -> None:
        # The main process writes every row while the workers decide: its per-row work is
        # kept to the writing (codes are counted per distinct tuple, expanded per chunk).
        blocked: dict[tuple[str, ...], int] = {}
        for row, (allowed, reason, blocking) in zip(chunk, verdicts, strict=True):
            if allowed:
                write_sendable(row, reason)
            else:
                blocked[blocking] = blocked.get(blocking, 0) + 1
                write_blocked(row, reason)
        count = sum(blocked.values())
        summary.total += len(chunk)
        summary.blocked += count
        summary.sendable += len(chunk) - count
        for codes, times in blocked.items():
            for code in codes:
                summary.reasons[code] += times
        if progress is not None:
            progress(summary.total)

    if workers <= 1:
        for chunk in chunks():
            write(chunk, _decide_chunk(values(chunk), job, dates(chunk)))
        return summary
    _JOB = job
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            pending: deque[tuple[list[Sequence[str]], Future[list[Verdict]]]] = deque()
            for chunk in chunks():
                pending.append(
                    (chunk, pool.submit(_decide_chunk, values(chunk), None, dates(chunk)))
                )
                if len(pending) >= 2 * workers:
                    done, future = pending.popleft()
                    write(done, future.result())
            while pending:
                done, future = pending.popleft()
                write(done, future.result())
    finally:
        _JOB = None
    return summary


def csv_writer(handle: TextIO, columns: list[str]) -> Callable[[Sequence[str], str], object]:
    """A writer of audited rows: the file's columns plus ``reason``."""
    writer = SafeWriter(handle)  # the file is opened in a spreadsheet: no formula runs
    writer.writerow([*columns, "reason"])

    def write(row: Sequence[str], reason: str) -> object:
        return writer.writerow([*row, reason])

    return write
