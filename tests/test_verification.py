"""The admin page's check: only the records appended since the last logged check, continued
from that check's record and hash; a full verify on demand (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from test_proof import SPEC, grant, raw

from toolkit.proof import Ledger
from toolkit.proof.verification import check


def test_each_check_reads_only_what_was_appended_since_the_last(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    for i in range(5):
        grant(book, f"+3361234567{i}")
    first = book.check()
    assert first.ok and (first.start, first.upto, first.behind) == (0, 5, 0)
    assert first.tally == {"sms_offers": {"grant": 5}}
    assert book.check() == first  # nothing new: the same check, nothing logged again
    grant(book, "+33612345679")
    book.record("+33612345670", "sms_offers", "withdraw", method="web-form", locale="fr")
    second = book.check()
    assert second.ok and (second.kind, second.start, second.upto) == ("new", 5, 7)
    assert second.tally == {"sms_offers": {"grant": 6, "withdraw": 1}}
    assert book.last_check() == second
    full = book.check(full=True)
    assert full.ok and (full.kind, full.start, full.upto) == ("full", 0, 7)
    assert full.tally == second.tally  # the counts carried forward agree with a recount


def test_a_check_reads_at_most_its_step_and_says_how_far_behind_it_is(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    for i in range(7):
        grant(book, f"+3361234567{i}")
    store = book._store
    first = check(store, step=3)
    assert (first.upto, first.behind) == (3, 4)
    read: list[tuple[int, int]] = []
    rows = store.rows
    store.rows = lambda start, end: read.append((start, end)) or rows(start, end)  # type: ignore[method-assign]
    second = check(store, step=3)
    assert read == [(3, 6)]  # not one record before the last check
    assert (second.upto, second.behind) == (6, 1)
    assert check(store, step=3).upto == 7


def test_tampering_in_the_new_records_is_named_and_stays_reported(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    grant(book, "+33612345670")
    assert book.check().ok
    ids = [grant(book, f"+3361234567{i}") for i in (1, 2)]
    raw(ledger_url, "UPDATE optin_events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 3")
    broken = book.check()
    assert not broken.ok and broken.broken_id == ids[1]
    assert "hash does not match" in broken.reason
    grant(book, "+33612345673")
    assert book.check() == broken  # never resumes after a failure: a full verify decides


def test_a_chain_rewritten_behind_the_last_check_is_caught_by_the_next(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    for i in range(3):
        grant(book, f"+3361234567{i}")
    assert book.check().upto == 3
    # rewriting and re-chaining records changes the hash of the checked record #3
    raw(
        ledger_url,
        "UPDATE optin_events SET hash = 'sha256:' || substr(hash, 8, 60) || 'beef' WHERE seq = 3",
    )
    grant(book, "+33612345673")
    result = book.check()
    assert not result.ok and "rewritten behind" in result.reason


def test_an_old_record_edited_in_place_needs_the_full_verify(ledger_url: str) -> None:
    """The quick check's documented limit, and the full verify that covers it."""
    book = Ledger(ledger_url, spec=SPEC)
    ids = [grant(book, f"+3361234567{i}") for i in range(3)]
    assert book.check().ok
    raw(ledger_url, "UPDATE optin_events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 2")
    grant(book, "+33612345673")
    assert book.check().ok  # the new record links to #3, whose hash is unchanged
    full = book.check(full=True)
    assert not full.ok and full.broken_id == ids[1]
    assert book.last_check() == full


@pytest.mark.parametrize("full", [False, True])
def test_a_ledger_opened_to_read_checks_but_logs_nothing(ledger_url: str, full: bool) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    grant(book)
    reader = Ledger(ledger_url, create=False)
    assert reader.check(full=full).ok
    assert reader.last_check() is None and book.last_check() is None


def test_pages_walk_back_from_the_newest(ledger_url: str) -> None:
    book = Ledger(ledger_url, spec=SPEC)
    ids = [grant(book, f"+3361234567{i}") for i in range(5)]
    first = book.page(size=2)
    assert [e.id for _seq, e in first] == ids[:2:-1][:2]
    second = book.page(before=first[-1][0], size=2)
    assert [e.id for _seq, e in second] == [ids[2], ids[1]]
    assert [e.id for _seq, e in book.page(before=2, size=2)] == [ids[0]]
