"""The chain's rules as pure functions: seal records onto a head, verify a chain, write and
read an export. No I/O here: the store feeds rows in, so each rule is testable on its own.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..csvio import SafeWriter
from ..errors import LedgerError
from ..render import content_version
from .records import GENESIS, ConsentEvent, compute_hash, is_redacted, subject_problem
from .store import Head, StoredText

if TYPE_CHECKING:  # checkpoints are plain data here; cryptography loads only to check one
    from .checkpoint import Checkpoint

_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_TEXT_KEYS = frozenset({"version", "artefact", "locale", "text"})


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of recomputing the chain: ``ok``, or the first broken record and why."""

    ok: bool
    count: int
    broken_id: str | None = None
    reason: str = ""


def seal(events: Sequence[ConsentEvent], head: Head) -> tuple[list[tuple[int, ConsentEvent]], Head]:
    """Chain events after ``head``: each gets the previous hash and its own; returns the
    rows (seq, event) and the new head."""
    seq, records, prev = head
    rows = []
    for item in events:
        linked = replace(item, prev_hash=prev)
        sealed = replace(linked, hash=linked.computed_hash())
        seq += 1
        records += 1
        rows.append((seq, sealed))
        prev = sealed.hash
    return rows, Head(seq, records, prev)


def verify_chain(
    head: Head,
    rows: Iterable[tuple[int, ConsentEvent]],
    texts: Iterable[StoredText],
    checkpoints: Sequence[Checkpoint] = (),
    digest: Callable[[str], str] | None = None,
    redacted_later: Callable[[], set[str]] | None = None,
    start: tuple[int, str] = (0, GENESIS),
) -> VerifyResult:
    """Recompute every hash and link up to ``head``; name the first record that does not hold,
    a chain that ends before its head, a stored text that no longer matches its version, a
    version an event names whose text is gone or is not the slot's (M3), and a chain that
    no longer extends a signed checkpoint (rewritten, re-chained or truncated behind it).

    The hash covers a subject's keyed digest and salted seal, not the subject: every kept
    subject is checked against its seal, and with the key (``digest``) against its digest; a
    redacted subject (its digest) must have its ``redact`` record, so an identifier erased
    without one is named (``redacted_later``: the digests whose redaction was recorded after
    ``head``, read once the chain is, so a redaction during the verify is no alarm).

    ``start`` (seq, hash) continues from a record already verified: ``rows`` then begin
    right after it (the admin page checks only what was appended since its last check)."""
    stored: dict[str, StoredText] = {}
    for text in texts:
        if content_version(text.text) != text.version:
            return VerifyResult(False, 0, text.version, "stored text does not match its version")
        stored[text.version] = text
    marks = {cp.seq: cp for cp in checkpoints}
    last_seq, prev = start
    count = last_seq  # records and seq advance together (seal)
    erased: dict[str, str] = {}  # digest -> the first record redacted before its redaction
    for seq, item in rows:
        count += 1
        if seq != last_seq + 1:
            return VerifyResult(
                False, count, item.id, f"record(s) before this one are missing (seq {last_seq + 1})"
            )
        if item.prev_hash != prev:
            return VerifyResult(
                False, count, item.id, "prev_hash does not match the record before it"
            )
        if item.computed_hash() != item.hash:
            return VerifyResult(False, count, item.id, "hash does not match the record's content")
        problem = "" if item.action == "redact" else subject_problem(item)
        if problem:
            return VerifyResult(False, count, item.id, problem)
        if item.action == "redact":
            erased.pop(item.subject_digest, None)
        elif item.subject_digest and is_redacted(item.subject):
            erased.setdefault(item.subject_digest, item.id)
        elif item.subject_digest and digest and digest(item.subject) != item.subject_digest:
            return VerifyResult(False, count, item.id, "subject does not match its keyed digest")
        for slot, version in item.versions.items():
            shown = stored.get(version)
            if shown is None:
                return VerifyResult(
                    False, count, item.id, f"versions.{slot}: the text of {version} is not stored"
                )
            if shown.artefact != slot or shown.locale != item.locale:
                return VerifyResult(
                    False,
                    count,
                    item.id,
                    f"versions.{slot}: {version} is the {shown.artefact} text in {shown.locale!r}",
                )
        mark = marks.get(seq)
        if mark is not None and mark.hash != item.hash:
            return VerifyResult(
                False,
                count,
                item.id,
                f"the chain no longer extends the checkpoint of {mark.at} at record #{seq}:"
                " rewritten behind it",
            )
        prev, last_seq = item.hash, seq
    if head.hash and (head.records != count or head.hash != prev):
        return VerifyResult(
            False,
            count,
            None,
            f"the chain ends early: {head.records - count} last record(s) missing",
        )
    if erased and redacted_later is not None:  # redacted while we read, recorded after head
        for late in redacted_later():
            erased.pop(late, None)
    for first in erased.values():
        return VerifyResult(
            False, count, first, "subject erased without a recorded redaction (no redact record)"
        )
    for mark in checkpoints:
        if mark.seq > last_seq:
            return VerifyResult(
                False,
                count,
                None,
                f"the chain ends at record #{last_seq}, before the checkpoint of {mark.at} at"
                f" #{mark.seq}: truncated",
            )
    return VerifyResult(True, count)


def export_jsonl(events: Iterable[ConsentEvent], texts: Iterable[StoredText] = ()) -> Iterator[str]:
    """JSON lines: each stored text first (``{"version", "artefact", "locale", "text"}``), so
    an import elsewhere keeps the words; then every record in chain order."""
    for text in texts:
        yield json.dumps(text.as_json(), ensure_ascii=False, sort_keys=True)
    for item in events:
        yield json.dumps(item.as_json(), ensure_ascii=False, sort_keys=True)


def export_csv(events: Iterable[ConsentEvent]) -> Iterator[str]:
    """CSV lines, header first; mappings (versions, evidence) as JSON in their cell."""
    columns = list(ConsentEvent.__dataclass_fields__)
    buffer = io.StringIO()
    writer = SafeWriter(buffer, lineterminator="")  # a subject or a message may be a formula
    writer.writerow(columns)
    yield buffer.getvalue()
    for item in events:
        buffer.seek(0)
        buffer.truncate()
        values = item.as_json()
        writer.writerow(
            [
                json.dumps(values[c], sort_keys=True) if isinstance(values[c], dict) else values[c]
                for c in columns
            ]
        )
        yield buffer.getvalue()


def read_export(lines: Iterable[str]) -> tuple[list[StoredText], list[ConsentEvent]]:
    """Parse a JSON-lines export: its texts (each checked against its version) and its records
    (each checked against its own hash and its link to the record before). Raises
    ``LedgerError`` naming the line of the first problem."""
    texts: list[StoredText] = []
    records: list[ConsentEvent] = []
    prev: str | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and set(data) == _TEXT_KEYS:
                text = StoredText(**{k: str(v) for k, v in data.items()})
                if content_version(text.text) != text.version:
                    raise LedgerError(f"line {number}: text does not match its version")
                texts.append(text)
                continue
            origin = ConsentEvent(**data)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, LedgerError):
                raise
            raise LedgerError(f"line {number}: not a consent record: {exc}") from None
        if not _UTC_MS.fullmatch(str(origin.at)):
            raise LedgerError(
                f"line {number}: 'at' must be UTC with milliseconds, like "
                f"2026-11-30T09:15:02.123Z, got {origin.at!r}"
            )
        if compute_hash(origin.body()) != origin.hash:
            raise LedgerError(f"line {number}: hash does not match the record (forged or altered)")
        problem = "" if origin.action == "redact" else subject_problem(origin)
        if problem:
            raise LedgerError(f"line {number}: {problem}")
        if prev is not None and origin.prev_hash != prev:
            raise LedgerError(f"line {number}: does not follow the line before it in its chain")
        prev = origin.hash
        records.append(origin)
    return texts, records
