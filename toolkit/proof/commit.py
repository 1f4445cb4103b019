"""Group commit: concurrent appends share one transaction and one durable commit.

A caller queues its batch, then either takes the writer lock and writes every batch queued
(its own and the others', one transaction, one disk sync), or, when another caller is
writing, waits until that write ends and looks again. Under load, many sign-ups share one
commit; alone, a caller writes its own batch with no thread hand-off.

Invariants (each is what a test checks):

1. Only the holder of ``_writer`` writes, and only it touches ``_known`` (the versions whose
   text is known to be stored).
2. Nobody is ever handed the writing: a waiter is woken (``_ended``) every time a write ends
   and takes the lock itself if its batch is still queued. A caller interrupted while waiting
   (a signal, a timeout of its own) removes its batch if no writer took it yet, and otherwise
   leaves it to the writer that did: either way nobody else is left waiting (D4). In the
   second case the batch is stored although the call failed; the ledger tells the truth.
3. A batch is written whole or not at all. A batch that names a text nobody stored, or that
   the database refuses, fails alone: the others of its transaction are rewritten without it.
   An outage fails every batch of the transaction (after one retry on a fresh connection),
   and no caller is ever told "stored" for a batch that was not committed.
4. Batches are sealed in the order they are taken, under the store's write lock held from
   reading the head to the commit, so the chain never forks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
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


class GroupCommit:
    """The writes of one store in this process, grouped."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store
        self._reset()

    def _reset(self) -> None:
        self._writer = threading.Lock()  # its holder writes (or holds writes, paused())
        self._ended = threading.Condition(threading.Lock())  # notified when a write ends
        self._queue: list[Batch] = []  # guarded by _ended's lock
        self._pending = 0  # batches queued or being written; guarded by _ended's lock
        self._known: set[str] = set()

    def write(
        self, events: Sequence[ConsentEvent], texts: Sequence[StoredText] = ()
    ) -> list[ConsentEvent]:
        """Queue a batch and see it written (by this caller, or with another's group)."""
        batch = Batch(events, texts)
        with self._ended:
            self._queue.append(batch)
            self._pending += 1
        try:
            while not batch.future.done():
                if self._writer.acquire(blocking=False):
                    try:
                        taken = self._take()
                        if taken:  # else a writer before us took ours, and resolved it
                            self._write(taken, drain=True)
                    finally:
                        self._release()
                else:
                    with self._ended:  # a write is under way: wait for it to end, then look
                        if not batch.future.done() and self._writer.locked():
                            self._ended.wait()
        except BaseException:
            with self._ended:
                if batch in self._queue:  # nobody took it: it will never be written
                    self._queue.remove(batch)
                    self._pending -= 1
            raise
        return batch.future.result()

    def _take(self) -> list[Batch]:
        with self._ended:
            taken, self._queue = self._queue, []
        return taken

    def _release(self) -> None:
        self._writer.release()
        with self._ended:
            self._ended.notify_all()

    @property
    def pending(self) -> int:
        """How many batches are waiting to be written (or being written)."""
        return self._pending

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the writing: batches queue, and are written together once released."""
        self._writer.acquire()
        try:
            yield
        finally:
            self._release()

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
        self._known |= stored
        for batch in batches:
            result = outcome[batch]
            if isinstance(result, LedgerError):
                self._resolve(batch, error=result)
            else:
                self._resolve(batch, result)

    def _transaction(
        self, tx: WriteTransaction, batches: list[Batch]
    ) -> tuple[dict[Batch, list[ConsentEvent] | LedgerError], set[str]]:
        """Seal and insert every batch whose texts are all stored (or offered); a batch with a
        version nobody stored fails alone, before anything of it is written."""
        head = tx.head()
        outcome: dict[Batch, list[ConsentEvent] | LedgerError] = {}
        new_texts: dict[str, StoredText] = {}
        rows: list[tuple[int, ConsentEvent]] = []
        found: set[str] = set()
        for batch in batches:
            offered = {t.version: t for t in batch.texts if t.version not in self._known}
            named = {v for item in batch.events for v in item.versions.values()}
            unknown = named - self._known - found - offered.keys() - new_texts.keys()
            if unknown:
                found |= tx.stored(unknown)
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
            new_texts.update(offered)
            sealed, head = seal(batch.events, head)
            rows += sealed
            outcome[batch] = [item for _seq, item in sealed]
        tx.insert_texts(new_texts.values())
        if rows:
            tx.insert_events(rows)
            tx.move_head(head)
        return outcome, found | set(new_texts)

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
        with self._ended:
            self._pending -= 1

    def _fail(self, batches: Sequence[Batch], error: Exception) -> None:
        for batch in batches:
            self._resolve(batch, error=error)

    # --- lifecycle ----------------------------------------------------------------------------

    def after_fork(self) -> None:
        """In a forked child: the parent's locks, queue and waiters are not ours."""
        self._reset()
