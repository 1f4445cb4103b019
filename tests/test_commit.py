"""The group commit's protocol against an in-memory store: who writes which round, and that no
interrupted caller ever leaves another waiting (toolkit/proof/commit.py, invariants 1 and 2)."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from toolkit.proof import commit as commit_module
from toolkit.proof.commit import GroupCommit
from toolkit.proof.records import GENESIS, ConsentEvent
from toolkit.proof.store import Head, StoredText


class FakeStore:
    """A chain in memory. ``hold`` makes the next transaction wait at its head read, once the
    queue has been taken: callers arriving meanwhile queue for the next round."""

    def __init__(self) -> None:
        self.chain_head = Head(0, 0, GENESIS)
        self.transactions: list[list[str]] = []  # the subjects each transaction wrote
        self.hold = threading.Event()
        self.held = threading.Event()  # a transaction is waiting at its head read

    @contextmanager
    def writing(self) -> Iterator[FakeTransaction]:
        yield FakeTransaction(self)


class FakeTransaction:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def head(self) -> Head:
        if self.store.hold.is_set():
            self.store.held.set()
            while self.store.hold.is_set():
                time.sleep(0.002)
        return self.store.chain_head

    def stored(self, versions: Collection[str]) -> dict[str, tuple[str, str]]:
        return {}

    def insert_texts(self, texts: Iterable[StoredText]) -> None:
        pass

    def insert_events(self, rows: Sequence[tuple[int, ConsentEvent]]) -> None:
        self.store.transactions.append([item.subject for _seq, item in rows])

    def move_head(self, head: Head) -> None:
        self.store.chain_head = head


def event(subject: str) -> ConsentEvent:
    return ConsentEvent("id-" + subject, subject, "p", "opposition", "api", {}, "fr", "t")


def start(group: GroupCommit, subject: str, out: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        try:
            out[subject] = group.write([event(subject)])
        except BaseException as exc:  # the assertions read it
            out[subject] = exc

    thread = threading.Thread(target=run, name=subject, daemon=True)
    thread.start()
    return thread


def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.002)


def test_each_leader_writes_one_round_then_passes_the_turn() -> None:
    store = FakeStore()
    group = GroupCommit(store)  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    store.hold.set()
    first = start(group, "a", out)
    until(store.held.is_set, "the first caller leads and reaches the head")
    others = [start(group, name, out) for name in ("b", "c")]
    until(lambda: group.pending == 3, "b and c queue behind the round under way")
    store.hold.clear()
    for thread in (first, *others):
        thread.join(10)
    # a wrote its round alone; the turn passed to b, who wrote b and c in one transaction
    assert store.transactions == [["a"], ["b", "c"]]
    assert all(isinstance(out[n], list) and out[n][0].subject == n for n in "abc")
    assert group.pending == 0
    assert group.write([event("d")])[0].subject == "d"  # nobody is left leading


def test_a_caller_interrupted_once_handed_the_turn_passes_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """D4's trap: the turn passed to a caller that is leaving. It passes the turn on, under the
    same lock, so the caller queued after it is written, and later appends go through."""

    class Interrupting(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            woken = super().wait(timeout)
            if threading.current_thread().name == "b":
                raise KeyboardInterrupt  # b is interrupted the moment it is woken
            return woken

    @dataclass(eq=False)
    class Batch(commit_module.Batch):
        wake: threading.Event = field(default_factory=Interrupting)

    monkeypatch.setattr(commit_module, "Batch", Batch)
    store = FakeStore()
    group = GroupCommit(store)  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    store.hold.set()
    first = start(group, "a", out)
    until(store.held.is_set, "a leads")
    second = start(group, "b", out)
    until(lambda: group.pending == 2, "b queues")
    third = start(group, "c", out)
    until(lambda: group.pending == 3, "c queues")
    store.hold.clear()
    for thread in (first, second, third):
        thread.join(10)
        assert not thread.is_alive(), thread.name
    assert isinstance(out["b"], KeyboardInterrupt)
    assert store.transactions == [["a"], ["c"]]  # b's batch was never written
    assert isinstance(out["c"], list) and group.pending == 0
    assert group.write([event("d")])[0].subject == "d"
