"""Signed checkpoints and receipts (issue 12 item 6, M3): a chain rewritten or truncated behind
a checkpoint, or a stored text deleted, fails `verify` naming what broke, even when whoever did it
had write access and re-chained every hash; receipts verify offline."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import run
from test_proof_cli import SPEC, seeded

import toolkit
from toolkit.errors import LedgerError
from toolkit.proof import Ledger
from toolkit.proof.chain import seal
from toolkit.proof.checkpoint import load_key, public_key_text, verify_receipt
from toolkit.proof.records import GENESIS
from toolkit.proof.store import Head


def checkpointed(tmp_path: Path) -> tuple[str, Path, Path]:
    db = str(tmp_path / "l.db")
    seeded(Path(db)).close()
    key = tmp_path / "keys" / "signing.key"
    code, out, err = run("ledger", "checkpoint", "--db", db, "--key", str(key))
    assert code == 0, err
    mark = tmp_path / "checkpoint.json"
    mark.write_text(out, encoding="utf-8")
    assert json.loads(out)["seq"] == 3 and key.stat().st_mode & 0o777 == 0o600
    return db, mark, key


def rechain(db: str, change: dict[int, dict[str, str]], keep: int | None = None) -> None:
    """What someone with write access can do: alter records, drop the tail, and recompute
    every hash and the head so that the chain is consistent again."""
    book = Ledger(db, spec=SPEC)
    events = list(book.events())
    book.close()
    events = [replace(e, **change.get(i, {})) for i, e in enumerate(events, start=1)]
    events = events[:keep] if keep is not None else events
    rows, head = seal(events, Head(0, 0, GENESIS))
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM optin_events")
        for seq, item in rows:
            values = item.as_json()
            values["versions"] = json.dumps(values["versions"], sort_keys=True)
            values["evidence"] = json.dumps(values["evidence"], sort_keys=True)
            columns = ", ".join(["seq", *values])
            marks = ", ".join("?" for _ in range(len(values) + 1))
            conn.execute(
                f"INSERT INTO optin_events ({columns}) VALUES ({marks})",  # noqa: S608
                [seq, *values.values()],
            )
        conn.execute(
            "UPDATE optin_head SET seq = ?, records = ?, hash = ?",
            (head.seq, head.records, head.hash),
        )


def test_a_chain_rewritten_behind_a_checkpoint_is_caught(tmp_path: Path) -> None:
    db, mark, _key = checkpointed(tmp_path)
    code, out, _ = run("ledger", "verify", "--db", db, "--checkpoint", str(mark))
    assert code == 0 and "ok: 3 records" in out
    # the STOP of record 3 rewritten as a grant, every hash recomputed: the chain alone is fine
    rechain(db, {3: {"action": "grant", "method": "web-form"}})
    assert run("ledger", "verify", "--db", db)[0] == 0
    code, out, err = run("ledger", "verify", "--db", db, "--checkpoint", str(mark))
    assert code == 1 and "no longer extends the checkpoint" in err and "#3" in err


def test_a_chain_truncated_behind_a_checkpoint_is_caught(tmp_path: Path) -> None:
    db, mark, _key = checkpointed(tmp_path)
    rechain(db, {}, keep=2)  # the STOP dropped, the head moved back
    assert run("ledger", "verify", "--db", db)[0] == 0
    code, _, err = run("ledger", "verify", "--db", db, "--checkpoint", str(mark))
    assert code == 1 and "truncated" in err


def test_a_deleted_text_is_caught(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    seeded(Path(db)).close()
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute("SELECT version FROM optin_texts LIMIT 1").fetchone()
        conn.execute("DELETE FROM optin_texts WHERE version = ?", (version,))
    code, _, err = run("ledger", "verify", "--db", db)
    assert code == 1 and f"the text of {version} is not stored" in err


def test_a_forged_checkpoint_or_another_key_is_refused(tmp_path: Path) -> None:
    db, mark, key = checkpointed(tmp_path)
    data = json.loads(mark.read_text(encoding="utf-8"))
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**data, "seq": 2}), encoding="utf-8")
    code, _, err = run("ledger", "verify", "--db", db, "--checkpoint", str(forged))
    assert code == 1 and "signature does not match" in err
    other = public_key_text(load_key(tmp_path / "other.key"))
    code, _, err = run(
        "ledger", "verify", "--db", db, "--checkpoint", str(mark), "--public-key", other
    )
    assert code == 1 and "another key" in err
    trusted = public_key_text(load_key(key))
    code, out, _ = run(
        "ledger", "verify", "--db", db, "--checkpoint", str(mark), "--public-key", trusted
    )
    assert code == 0 and "signed by key" not in out


def test_receipts_are_signed_and_verify_offline(tmp_path: Path) -> None:
    key = load_key(tmp_path / "signing.key")
    book = Ledger(tmp_path / "l.db", spec=SPEC, signing_key=key)
    versions = {"checkbox": toolkit.render(SPEC, "checkbox", "fr").version}
    event = book.record(
        "+33612345678", "sms_offers", "grant", method="web-form", versions=versions, locale="fr"
    )
    receipt = book.receipt(event.id)
    assert receipt["publicKey"] == public_key_text(key)
    verify_receipt(json.loads(json.dumps(receipt)), public_key_text(key))  # no ledger needed
    with pytest.raises(LedgerError, match="signature does not match"):
        verify_receipt({**receipt, "action": "withdraw"})
    book.close()
