"""Verification the admin page can afford on every view: the records appended since the last
check, continued from that check's record and hash, and logged.

A full verify reads every record (about 35 s per million); a page view must not. So each
check is written to ``optin_verifications`` and the next one starts where the last good one
ended, after making sure that record still has the hash it had (a chain rewritten and
re-chained behind the mark changes it). What the quick check cannot see, an old record
edited without re-chaining or erased without its redaction record, a full verify finds: the
page says when the last full one ran and offers to run one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .chain import verify_chain
from .records import GENESIS, ConsentEvent, utc_now
from .store import Head

if TYPE_CHECKING:
    from .store import SqlStore

Tally = dict[str, dict[str, int]]  # purpose -> action -> records
STEP = 2_000  # records a page view checks at most: about 70 ms; the rest on the next views


@dataclass(frozen=True)
class Verification:
    """One check of the chain: which records (after ``start`` up to ``upto``), with what
    outcome, against a chain that ended at ``head``; ``tally`` counts the records up to
    ``upto`` per purpose and action, carried forward check after check."""

    at: str
    kind: str  # "full" or "new"
    start: int
    upto: int
    hash: str
    head: int
    ok: bool
    broken_id: str = ""
    reason: str = ""
    tally: Tally = field(default_factory=dict)

    @property
    def behind(self) -> int:
        """Records the chain held when this check ran that it did not reach."""
        return max(self.head - self.upto, 0)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Verification:
        return cls(
            at=row["at"],
            kind=row["kind"],
            start=int(row["start"]),
            upto=int(row["upto"]),
            hash=row["hash"],
            head=int(row["head"]),
            ok=bool(row["ok"]),
            broken_id=row["broken_id"] or "",
            reason=row["reason"] or "",
            tally=json.loads(row["tally"] or "{}"),
        )

    def row(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": self.kind,
            "start": self.start,
            "upto": self.upto,
            "hash": self.hash,
            "head": self.head,
            "ok": int(self.ok),
            "broken_id": self.broken_id,
            "reason": self.reason,
            "tally": json.dumps(self.tally, sort_keys=True),
        }


def _add(tally: Tally, counts: Counter[tuple[str, str]]) -> Tally:
    merged = {purpose: dict(actions) for purpose, actions in tally.items()}
    for (purpose, action), n in counts.items():
        actions = merged.setdefault(purpose, {})
        actions[action] = actions.get(action, 0) + n
    return merged


def check(store: SqlStore, *, full: bool = False, step: int = STEP) -> Verification:
    """Check the records appended since the last good check (at most ``step`` of them), or
    the whole chain (``full``); log the outcome when the ledger can write, return it.

    A broken chain stays reported as broken until a full verify finds it whole again: the
    quick check never starts from a record after a failure."""
    last_row = store.last_verification()
    last = None if last_row is None else Verification.from_row(last_row)
    head = store.head()
    if full or last is None:
        start, prev, tally = 0, GENESIS, {}
    elif not last.ok:
        return last
    else:
        start, prev, tally = last.upto, last.hash, last.tally
        if start and store.hash_at(start) != prev:
            return _log(
                store,
                Verification(
                    utc_now(),
                    "new",
                    start,
                    start,
                    prev,
                    head.seq,
                    False,
                    "",
                    f"record #{start} no longer has the hash it had when it was last verified:"
                    " the chain was rewritten behind that check",
                    tally,
                ),
            )
        if start >= head.seq:
            return last  # nothing new: no row, no work
    end = head.seq if full else min(head.seq, start + step)
    counts: Counter[tuple[str, str]] = Counter()
    if full:  # streamed, and every stored text checked against its version
        rows: Iterable[tuple[int, ConsentEvent]] = store.rows(0, end)
        texts = list(store.texts())
    else:  # a few thousand records: the texts their versions name
        rows = list(store.rows(start, end))
        texts = store.texts_of({v for _seq, item in rows for v in item.versions.values()})

    def counted(source: Iterable[tuple[int, ConsentEvent]]) -> Iterator[tuple[int, ConsentEvent]]:
        for seq, item in source:
            counts[item.purpose, item.action] += 1
            yield seq, item

    result = verify_chain(
        head if end == head.seq else Head(0, 0, ""),  # the end is checked when reached
        counted(rows),
        texts,
        (),
        store.digest if store.keyed() else None,
        lambda: store.redactions_after(end),
        start=(start, prev),
    )
    upto = end if result.ok else start
    return _log(
        store,
        Verification(
            utc_now(),
            "full" if full else "new",
            start,
            upto,
            (store.hash_at(upto) or "") if upto else GENESIS,
            head.seq,
            result.ok,
            result.broken_id or "",
            result.reason,
            _add(tally, counts) if result.ok else tally,
        ),
    )


def _log(store: SqlStore, done: Verification) -> Verification:
    if store.create:  # a ledger opened to read never writes, not even its log
        store.log_verification(done.row())
    return done
