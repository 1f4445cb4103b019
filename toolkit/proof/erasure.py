"""When the proof of a person's choices may be erased: the end of the retention the spec's
``[proof]`` sets, worked out from that person's records (issue 12 item 7, L-08).

Erasure here is redaction: the subject is replaced by its keyed digest, so the chain still
verifies and an objection still blocks the same number (GDPR Art. 17(3)(b), (e)). Pure rules:
the ledger feeds the records in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ..errors import LedgerError
from ..rules import add_duration

#: Records the person made (a choice, a confirmation, a page they read): "last inbound contact".
INBOUND_ACTIONS = frozenset({"grant", "withdraw", "opposition", "confirm", "notice-shown"})


def _moment(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def retention_start(records: Iterable[tuple[str, str]], start: str) -> datetime | None:
    """When the retention period of a person's proof starts, from their records (action,
    at), as ``[proof] retention_from`` says; None when they made no record it counts from.
    ``end_of_contract`` is not known to the ledger: a LedgerError says so."""
    if start == "end_of_contract":
        raise LedgerError(
            "[proof] retention_from = 'end_of_contract': the ledger does not know when a"
            " contract ended; redact this person as an erasure request instead"
        )
    moments = [
        _moment(at)
        for action, at in records
        if action != "redact" and (start != "last_inbound_contact" or action in INBOUND_ACTIONS)
    ]
    if not moments:
        return None
    if start == "collection":
        return min(moments)
    last = max(moments)
    if start == "end_of_year":
        return datetime(last.year, 12, 31, 23, 59, 59, tzinfo=UTC)
    return last  # last_event, last_inbound_contact


def retention_end(
    records: Iterable[tuple[str, str]], retention: str, start: str
) -> datetime | None:
    """The moment the proof of a person's choices may be redacted (start + retention)."""
    begins = retention_start(records, start)
    return None if begins is None else add_duration(begins, retention)
