"""Erasure that keeps the proof (issue 12 item 7): a subject's number is redacted to its keyed
digest once the spec's [proof] retention has run; the chain still verifies, a signed checkpoint
still holds, and an objection still blocks the number."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from sqlalchemy import create_engine, text

import toolkit
from toolkit.cli import main
from toolkit.proof import Ledger, LedgerError, database_url
from toolkit.proof.erasure import retention_end
from toolkit.proof.schema import SCHEMA_VERSION

SPEC = toolkit.load_spec(ROOT / "examples" / "dse-france.toml")
NUMBER = "+33612345678"
LATER = datetime.now(UTC) + timedelta(days=5 * 366 + 2)  # past the examples' P5Y


def shown() -> dict[str, str]:
    return {a: toolkit.render(SPEC, a, "fr").version for a in ("checkbox", "notice-full")}


def grant_then_stop(book: Ledger, subject: str = NUMBER) -> None:
    book.record(subject, "sms_offers", "grant", method="web-form", versions=shown(), locale="fr")
    book.record(subject, "sms_offers", "confirm", method="code", locale="fr")
    book.record(
        subject,
        "sms_offers",
        "opposition",
        method="sms-reply",
        locale="fr",
        evidence={"message": "STOP"},
    )


def rows_naming(url: str, needle: str) -> int:
    """How many rows of the events table hold ``needle`` in any column."""
    engine = create_engine(database_url(url))
    with engine.connect() as conn:
        columns = (
            [c[1] for c in conn.execute(text("PRAGMA table_info(optin_events)"))]
            if (engine.dialect.name == "sqlite")
            else [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_name = 'optin_events'"
                    )
                )
            ]
        )
        where = " OR ".join(f"CAST({c} AS TEXT) LIKE :n" for c in columns)
        count = conn.execute(
            text(f"SELECT count(*) FROM optin_events WHERE {where}"),  # noqa: S608
            {"n": f"%{needle.lstrip('+')}%"},
        ).scalar_one()
    engine.dispose()
    return int(count)


def test_redacting_keeps_the_chain_the_checkpoint_and_the_objection(
    ledger_url: str, tmp_path: Path
) -> None:
    from toolkit.proof.checkpoint import load_key, read_checkpoint

    book = Ledger(ledger_url, spec=SPEC)
    grant_then_stop(book)
    grant_then_stop(book, "+33612345679")  # someone else, kept
    key = load_key(tmp_path / "k.pem")
    mark = read_checkpoint(json.dumps(book.checkpoint(key)))
    assert book.can_send(NUMBER, "sms_offers").reasons[0].code == "opposition"

    event, count = book.redact(NUMBER, now=LATER)

    assert count == 3 and event.action == "redact" and event.method == "retention"
    assert event.subject.startswith("hmac-sha256:") and event.purpose == ""
    assert rows_naming(ledger_url, NUMBER) == 0  # the number is nowhere in the records
    assert rows_naming(ledger_url, "+33612345679") == 3
    result = book.verify([mark])
    assert result.ok, result
    # the objection still holds, for the number typed again in any form
    decision = book.can_send("06 12 34 56 78", "sms_offers", "FR")
    assert not decision.allowed and decision.reasons[0].code == "opposition"
    assert [e.action for e in book.history(NUMBER)] == ["grant", "confirm", "opposition", "redact"]
    assert book.events_many([NUMBER], "sms_offers")[NUMBER][-1].action == "opposition"
    with pytest.raises(LedgerError, match="no record of"):
        book.redact(NUMBER, now=LATER)  # nothing left to redact
    # the number comes back: new records name it again, and the old objection stays in force
    book.record(NUMBER, "sms_offers", "contact", method="phone", locale="fr")
    assert not book.can_send(NUMBER, "sms_offers").allowed
    assert book.verify().ok
    book.close()


def test_redaction_waits_for_the_retention_unless_a_request(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    grant_then_stop(book)
    until = (datetime.now(UTC) + timedelta(days=5 * 365)).year
    with pytest.raises(LedgerError, match=rf"kept until {until}-.*retention P5Y from last_event"):
        book.redact(NUMBER)
    assert book.history(NUMBER)[0].subject == NUMBER  # nothing changed
    assert list(book.expired()) == [] and list(book.expired(LATER)) == [NUMBER]
    event, count = book.redact(NUMBER, request=True)
    assert (event.method, count) == ("request", 3)
    assert list(book.expired(LATER)) == []
    with pytest.raises(LedgerError, match=r"made by Ledger\.redact"):
        book.record(NUMBER, "sms_offers", "redact", method="request", locale="fr")


def test_retention_start_follows_the_spec() -> None:
    records = [
        ("grant", "2020-03-01T10:00:00.000Z"),
        ("opposition", "2021-06-01T10:00:00.000Z"),
        ("notice-sent", "2022-02-01T10:00:00.000Z"),  # we wrote to them: not inbound
    ]
    end = retention_end(records, "P5Y", "last_event")
    assert end is not None and end.date().isoformat() == "2027-02-01"
    end = retention_end(records, "P5Y", "last_inbound_contact")
    assert end is not None and end.date().isoformat() == "2026-06-01"
    end = retention_end(records, "P5Y", "collection")
    assert end is not None and end.date().isoformat() == "2025-03-01"
    end = retention_end(records, "P1Y", "end_of_year")
    assert end is not None and end.date().isoformat() == "2023-12-31"
    with pytest.raises(LedgerError, match="end_of_contract"):
        retention_end(records, "P1Y", "end_of_contract")


def test_a_key_kept_outside_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = bytes(range(32))
    path = tmp_path / "l.db"
    with Ledger(path, spec=SPEC, subject_key=key) as book:
        grant_then_stop(book)
        digest = book.redact(NUMBER, request=True)[0].subject
    stored = sqlite3.connect(path).execute("SELECT value FROM optin_keys").fetchone()[0]
    assert stored.startswith("fingerprint:") and key.hex() not in stored
    with pytest.raises(LedgerError, match="kept outside the database: set OPTIN_SUBJECT_KEY"):
        Ledger(path, spec=SPEC).can_send(NUMBER, "sms_offers")
    with pytest.raises(LedgerError, match="is not this ledger's"):
        Ledger(path, spec=SPEC, subject_key=bytes(32)).can_send(NUMBER, "sms_offers")
    key_file = tmp_path / "subject.key"
    key_file.write_text(key.hex() + "\n")
    monkeypatch.setenv("OPTIN_SUBJECT_KEY", str(key_file))
    with Ledger(path, spec=SPEC, create=False) as book:
        assert book.verify().ok
        assert book.can_send(NUMBER, "sms_offers").reasons[0].code == "opposition"
        assert book.history(NUMBER)[0].subject == digest
    monkeypatch.setenv("OPTIN_SUBJECT_KEY", "not hex")
    with pytest.raises(LedgerError, match="OPTIN_SUBJECT_KEY: cannot read the key file"):
        Ledger(path, spec=SPEC)


def test_a_changed_digest_is_caught_with_the_key(tmp_path: Path) -> None:
    """Someone with write access moves a record to another person's digest, re-hashing and
    re-chaining everything: keyless checks pass, the key's check names the record."""
    from toolkit.proof.chain import seal, verify_chain
    from toolkit.proof.records import GENESIS
    from toolkit.proof.store import Head

    book = Ledger(tmp_path / "l.db", spec=SPEC)
    grant_then_stop(book)
    events = list(book.events())
    forged = [dataclasses.replace(events[0], subject_digest="hmac-sha256:" + "0" * 64)]
    forged += events[1:]
    rows, head = seal(forged, Head(0, 0, GENESIS))
    texts = list(book._store.texts())
    assert verify_chain(head, rows, texts).ok
    result = verify_chain(head, rows, texts, digest=book._store.digest)
    assert not result.ok and result.broken_id == events[0].id
    assert result.reason == "subject does not match its keyed digest"


def test_a_schema_2_ledger_upgrades_in_place(tmp_path: Path) -> None:
    """Records written before digests keep covering their subject, still verify and still
    decide; they cannot be redacted (their hash covers the number), new records can."""
    from toolkit.proof.records import GENESIS, ConsentEvent

    path = tmp_path / "old.db"
    with Ledger(path, spec=SPEC) as book:
        book.remember(toolkit.render(SPEC, "checkbox", "fr"))
        book.remember(toolkit.render(SPEC, "notice-full", "fr"))
    old = ConsentEvent(
        "0190a000-0000-7000-8000-000000000001",
        NUMBER,
        "sms_offers",
        "opposition",
        "sms-reply",
        {},
        "fr",
        "2025-01-01T00:00:00.000Z",
        {},
        GENESIS,
    )
    old = dataclasses.replace(old, hash=old.computed_hash())
    db = sqlite3.connect(path)
    with db:  # make it a schema-2 ledger holding one record of that time
        for column in ("subject_digest", "subject_salt", "subject_seal"):
            db.execute(f"ALTER TABLE optin_events DROP COLUMN {column}")
        db.execute("DROP TABLE optin_keys")
        db.execute("DROP TABLE optin_verifications")
        db.execute("DELETE FROM optin_schema WHERE version >= 3")
        db.execute(
            "INSERT INTO optin_events (seq, id, subject, purpose, action, method, versions,"
            " locale, at, evidence, prev_hash, hash) VALUES (1, ?, ?, 'sms_offers',"
            " 'opposition', 'sms-reply', '{}', 'fr', ?, '{}', ?, ?)",
            (old.id, NUMBER, old.at, GENESIS, old.hash),
        )
        db.execute("UPDATE optin_head SET seq = 1, records = 1, hash = ?", (old.hash,))
    db.close()
    with Ledger(path, spec=SPEC, create=False) as reader:  # read as it is: no upgrade
        assert reader.verify().ok
        assert reader.can_send(NUMBER, "sms_offers").reasons[0].code == "opposition"
    with Ledger(path, spec=SPEC) as book:  # a writer upgrades it
        book.record("+33612345679", "sms_offers", "opposition", method="phone", locale="fr")
        assert book.verify().ok
        assert book.can_send(NUMBER, "sms_offers").reasons[0].code == "opposition"
        with pytest.raises(LedgerError, match="written before subject digests"):
            book.redact(NUMBER, request=True)
        assert book.redact("+33612345679", request=True)[1] == 1
        assert book.verify().ok
        assert book.check().ok  # and it keeps the verification log of schema 4
    versions = sqlite3.connect(path).execute("SELECT version FROM optin_schema").fetchall()
    assert max(v for (v,) in versions) == SCHEMA_VERSION == 4


def test_cli_redact(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    with Ledger(db, spec=SPEC) as book:
        grant_then_stop(book)
    spec = str(ROOT / "examples" / "dse-france.toml")
    runner = CliRunner()
    result = runner.invoke(main, ["ledger", "redact", "--expired", "--db", db, "--spec", spec])
    assert result.exit_code == 0 and "nothing to redact" in result.output
    result = runner.invoke(main, ["ledger", "redact", NUMBER, "--db", db, "--spec", spec])
    assert result.exit_code == 1 and "kept until" in result.output
    result = runner.invoke(
        main,
        [
            "ledger",
            "redact",
            "06 12 34 56 78",
            "--region",
            "FR",
            "--request",
            "--db",
            db,
            "--spec",
            spec,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "redacted 06 12 34 56 78: 3 record(s), now hmac-sha256:" in result.output
    result = runner.invoke(main, ["ledger", "verify", "--db", db])
    assert result.exit_code == 0 and "ok" in result.output
    result = runner.invoke(main, ["ledger", "status", NUMBER, "-p", "sms_offers", "--db", db])
    assert result.exit_code == 3 and "[opposition]" in result.output
    result = runner.invoke(main, ["ledger", "redact", "--db", db, "--spec", spec])
    assert result.exit_code == 2 and "or --expired" in result.output


def test_a_redaction_during_a_verify_is_no_alarm(ledger_url: str) -> None:
    """The verify reads the head, then the records range by range: a redaction committed in
    between shows redacted records whose redact record lies after the head. Without the late
    redactions it would read as an erasure with no record."""
    from toolkit.proof.chain import verify_chain

    book = Ledger(ledger_url, spec=SPEC)
    grant_then_stop(book)
    head, rows = book._store.chain()  # the head is read; the records are not yet
    book.redact(NUMBER, request=True)
    texts = list(book._store.texts())
    rows = list(rows)
    assert not verify_chain(head, iter(rows), texts).ok  # the alarm the late check prevents
    late = verify_chain(
        head, iter(rows), texts, redacted_later=lambda: book._store.redactions_after(head.seq)
    )
    assert late.ok, late
    assert book.verify().ok
    book.close()


def test_verify_reads_the_chain_range_by_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each range of records is read in its own short transaction, and the ranges join up."""
    import toolkit.proof.store as store

    monkeypatch.setattr(store, "_VERIFY_RANGE", 2)
    book = Ledger(tmp_path / "l.db", spec=SPEC)
    grant_then_stop(book)
    grant_then_stop(book, "+33612345679")  # 6 records: 3 ranges
    reads: list[int] = []
    reading = book._store._reading

    def counted():  # type: ignore[no-untyped-def]
        reads.append(1)
        return reading()

    monkeypatch.setattr(book._store, "_reading", counted)
    _head, rows = book._store.chain()
    assert [seq for seq, _item in rows] == [1, 2, 3, 4, 5, 6]
    assert len(reads) == 1 + 3  # the head, then three ranges
    assert book.verify().ok
    engine = create_engine(database_url(str(tmp_path / "l.db")))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM optin_events WHERE seq = 3"))
    engine.dispose()
    result = book.verify()
    assert not result.ok and "missing (seq 3)" in result.reason  # a gap at a range's edge


@pytest.mark.parametrize("size", [16, 32, 64, 65, 100])
def test_the_subject_digest_is_hmac_sha256(size: int) -> None:
    """The digest's precomputed key pads give RFC 2104's HMAC-SHA256, for every key length."""
    import hmac
    import os

    from toolkit.proof.records import digest_subject

    key = os.urandom(size)
    for subject in (NUMBER, "anna@example.org", ""):
        expected = hmac.new(key, subject.encode(), "sha256").hexdigest()
        assert digest_subject(key, subject) == "hmac-sha256:" + expected
