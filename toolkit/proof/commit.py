"""Group commit: concurrent appends share one transaction and one durable commit.

A caller queues its batch. If nobody is writing, it leads: it writes every queued batch (its
own and the others', one transaction, one disk sync). Then it passes the turn to the first
caller still queued, if any, and returns: each leader writes one round, so no request carries
the load of the others for long. A caller that is not leading waits, woken once: when its batch
is written or has failed, or when the turn is passed to it. Alone, a caller writes its own
batch with no thread hand-off.

Invariants (each is what a test checks):

1. Only the leader writes, and only it touches ``_known`` (the versions whose text is known to
   be stored, with the artefact and locale of that text). "Pass the turn, or stop leading
   when nobody is queued" is decided atomically under ``_state``: a batch queued after that
   finds nobody writing and leads itself, so no batch is ever left behind.
2. A caller interrupted while waiting (a signal, a timeout of its own) leaves nobody waiting
   (D4): under ``_state`` it removes its batch if no leader took it yet (nothing of it is
   stored, as its exception says), and if the turn had been passed to it, passes it on. A batch
   a leader took is resolved by that leader. A leader interrupted while writing fails the
   batches it holds and those still queued, with an error: no caller is ever left waiting or
   told "stored" wrongly.
3. A batch is written whole or not at all. A batch that names a text nobody stored, or that
   the database refuses, fails alone: the others of its transaction are rewritten without it.
   An outage fails every batch of the transaction (after one retry on a fresh connection).
4. Batches are sealed in the order they are taken, under the store's write lock held from
   reading the head to the commit, so the chain never forks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import LedgerError, LedgerUnavailable
from .chain import seal
from .records import ConsentEvent
from .store import ChainStore, StoredText, WriteTransaction


@dataclass(eq=False)
class Batch:
    """One caller's events (all or none), the texts it offers, and where its outcome goes."""

    events: Sequence[ConsentEvent]
    texts: Sequence[StoredText] = ()
    future: Future[list[ConsentEvent]] = field(default_factory=Future)
    wake: threading.Event = field(default_factory=threading.Event)  # resolved, or your turn
    turn: bool = False  # set under _state when this caller is to lead next


class GroupCommit:
    """The writes of one store in this process, grouped."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store
        self._reset()

    def _reset(self) -> None:
        self._state = threading.Lock()  # guards _queue, _leading and _pending
        self._queue: list[Batch] = []
        self._leading = False  # a caller is writing the queue
        self._pending = 0  # batches queued or being written
        self._hold = threading.Lock()  # held by the leader around each write, and by paused()
        self._known: dict[str, tuple[str, str]] = {}

    def write(
        self, events: Sequence[ConsentEvent], texts: Sequence[StoredText] = ()
    ) -> list[ConsentEvent]:
        """Queue a batch and see it written (by this caller, or with another's group)."""
        batch = Batch(events, texts)
        with self._state:
            self._queue.append(batch)
            self._pending += 1
            if not self._leading:
                self._leading = batch.turn = True
        while not batch.future.done():
            if batch.turn:
                self._lead()
                continue
            try:
                batch.wake.wait()  # woken once: written or failed, or the turn passed to us
            except BaseException:
                with self._state:
                    if batch in self._queue:  # no leader took it: it will never be written
                        self._queue.remove(batch)
                        self._pending -= 1
                    if batch.turn:  # the turn was ours: pass it on
                        self._pass_turn()
                raise
        return batch.future.result()

    def _lead(self) -> None:
        """Write one round (everything queued, and what queues while the write lock is
        awaited), then pass the turn on or stop leading."""
        try:
            with self._hold:
                taken = self._take()
                if taken:
                    self._write(taken, drain=True)
        except BaseException:
            with self._state:
                left, self._queue = self._queue, []
                self._leading = False
            self._fail(left, LedgerError("the writing caller was interrupted; nothing was stored"))
            raise
        with self._state:
            self._pass_turn()

    def _pass_turn(self) -> None:
        """Under ``_state``: the first caller still queued leads next; with none, nobody."""
        if self._queue:
            following = self._queue[0]
            following.turn = True
            following.wake.set()
        else:
            self._leading = False

    def _take(self) -> list[Batch]:
        with self._state:
            taken, self._queue = self._queue, []
        return taken

    def knows(self, versions: Iterable[str]) -> bool:
        """Whether every version is known to have its text stored (then a caller need not
        offer the texts). Only the leader adds to the set; reading it is safe, and a miss only
        costs the caller a look-up of texts the leader then skips."""
        known = self._known
        return all(version in known for version in versions)

    @property
    def pending(self) -> int:
        """How many batches are waiting to be written (or being written)."""
        return self._pending

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the writing: batches queue, and are written together once released."""
        with self._hold:
            yield

    def _write(self, batches: list[Batch], *, drain: bool = False, retry: bool = True) -> None:
        """Write batches in one transaction (taking, once the write lock is held, every batch
        queued meanwhile); resolve each batch's future. Raises nothing but what is no
        ``Exception`` (KeyboardInterrupt...), once every batch has its error."""
        outcome: dict[Batch, list[ConsentEvent] | LedgerError] = {}
        try:
            with self._store.writing() as tx:
                if drain:  # those who queued while the write lock was awaited join in
                    batches.extend(self._take())
                outcome, stored = self._transaction(tx, batches)
        except LedgerUnavailable as exc:
            if retry:  # a kept connection may have gone stale (a server restart): once more
                self._write(batches, retry=False)
            else:
                self._fail(batches, exc)
            return
        except LedgerError as exc:
            if len(batches) > 1:  # the database refused one of them: find which, alone
                for batch in batches:
                    self._write([batch], retry=retry)
            else:
                self._fail(batches, exc)
            return
        except BaseException as exc:  # an unexpected failure: nothing of these is stored
            self._fail(batches, LedgerError(f"the ledger write failed; nothing was stored: {exc}"))
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt, SystemExit: the writing caller goes on with it
            return
        self._known.update(stored)
        for batch in batches:
            result = outcome[batch]
            if isinstance(result, LedgerError):
                self._resolve(batch, error=result)
            else:
                self._resolve(batch, result)

    def _misplaced(
        self,
        batch: Batch,
        offered: dict[str, StoredText],
        new_texts: dict[str, StoredText],
        found: dict[str, tuple[str, str]],
    ) -> list[str]:
        """Versions named in a slot that is not their text's (a notice's version as the
        checkbox's), or in another locale than the event's (English texts on a French grant)."""
        problems = []
        for item in batch.events:
            for slot, version in item.versions.items():
                text = offered.get(version) or new_texts.get(version)
                meta = (
                    (text.artefact, text.locale)
                    if text is not None
                    else self._known.get(version) or found.get(version)
                )
                if meta is None:
                    continue
                artefact, locale = meta
                if artefact != slot or locale != item.locale:
                    problems.append(
                        f"versions.{slot}: {version} is the {artefact} text in {locale!r}, not a"
                        f" {slot} text in the event's locale {item.locale!r}"
                    )
        return problems

    def _transaction(
        self, tx: WriteTransaction, batches: list[Batch]
    ) -> tuple[dict[Batch, list[ConsentEvent] | LedgerError], dict[str, tuple[str, str]]]:
        """Seal and insert every batch whose texts are all stored (or offered), each version
        in the slot of its own artefact and in its event's locale; a batch with a version
        nobody stored, or in the wrong slot, fails alone, before anything of it is written."""
        head = tx.head()
        outcome: dict[Batch, list[ConsentEvent] | LedgerError] = {}
        new_texts: dict[str, StoredText] = {}
        rows: list[tuple[int, ConsentEvent]] = []
        found: dict[str, tuple[str, str]] = {}
        for batch in batches:
            offered = {t.version: t for t in batch.texts if t.version not in self._known}
            named = {v for item in batch.events for v in item.versions.values()}
            unknown = named - self._known.keys() - found.keys() - offered.keys() - new_texts.keys()
            if unknown:
                found.update(tx.stored(unknown))
                missing = [
                    f"{k}={v}"
                    for item in batch.events
                    for k, v in item.versions.items()
                    if v in unknown and v not in found
                ]
                if missing:
                    outcome[batch] = LedgerError(
                        "no stored text for " + ", ".join(missing) + ": the ledger only records "
                        "versions whose words it keeps (call Ledger.remember(rendered) first)"
                    )
                    continue
            misplaced = self._misplaced(batch, offered, new_texts, found)
            if misplaced:
                outcome[batch] = LedgerError("; ".join(misplaced))
                continue
            new_texts.update(offered)
            sealed, head = seal(batch.events, head)
            rows += sealed
            outcome[batch] = [item for _seq, item in sealed]
        tx.insert_texts(new_texts.values())
        if rows:
            tx.insert_events(rows)
            tx.move_head(head)
        return outcome, {**found, **{v: (t.artefact, t.locale) for v, t in new_texts.items()}}

    def _resolve(
        self,
        batch: Batch,
        result: list[ConsentEvent] | None = None,
        *,
        error: Exception | None = None,
    ) -> None:
        if batch.future.done():
            return
        if error is not None:
            batch.future.set_exception(error)
        else:
            batch.future.set_result(result or [])
        batch.wake.set()
        with self._state:
            self._pending -= 1

    def _fail(self, batches: Sequence[Batch], error: Exception) -> None:
        for batch in batches:
            self._resolve(batch, error=error)

    def redact(self, subject: str, event: ConsentEvent) -> tuple[ConsentEvent, int]:
        """Seal a ``redact`` event and replace the subject by its digest in its records, in
        one transaction (a redaction is never done without its record, nor recorded undone);
        the sealed event and how many records changed. Queued writes wait meanwhile."""
        with self._hold, self._store.writing() as tx:
            sealed, head = seal([event], tx.head())
            tx.insert_events(sealed)
            tx.move_head(head)
            changed = tx.redact(subject, event.subject_digest)
        return sealed[0][1], changed

    # --- lifecycle ----------------------------------------------------------------------------

    def after_fork(self) -> None:
        """In a forked child: the parent's locks, queue and waiters are not ours."""
        self._reset()
