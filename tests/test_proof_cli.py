"""optin ledger verify | export | status | import, and optin audit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from conftest import ROOT, run
from sqlalchemy import create_engine, text

import toolkit
from toolkit.proof import Ledger, database_url

DSE = str(ROOT / "examples" / "dse-france.toml")
SPEC = toolkit.load_spec(DSE)


def seeded(path: Path) -> Ledger:
    book = Ledger(path, spec=SPEC)
    versions = {a: toolkit.render(SPEC, a, "fr").version for a in ("checkbox", "notice-full")}
    book.record(
        "+33612345678", "sms_offers", "grant", method="web-form", versions=versions, locale="fr"
    )
    book.record(
        "+33612345679", "sms_offers", "grant", method="web-form", versions=versions, locale="fr"
    )
    book.record("+33612345679", "sms_offers", "opposition", method="sms-reply", locale="fr")
    return book


def test_verify_status_export(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    seeded(Path(db))
    assert run("ledger", "verify", "--db", db) == (0, "ok: 3 records, chain intact\n", "")
    code, out, _ = run(
        "ledger",
        "status",
        "06 12 34 56 78",
        "--purpose",
        "sms_offers",
        "--db",
        db,
        "--region",
        "FR",
    )
    assert code == 0 and out.startswith("allowed: consent given on")
    code, out, _ = run("ledger", "status", "+33612345679", "-p", "sms_offers", "--db", db)
    assert code == 3 and out.startswith("blocked: opposition by SMS on")
    code, out, err = run("ledger", "status", "12", "-p", "sms_offers", "--db", db)
    assert code == 1 and "invalid phone number '12'" in err and out == ""  # bad input, not "no"
    code, out, err = run(
        "ledger",
        "status",
        "+33612345679",
        "-p",
        "sms_ofers",
        "--db",
        db,
        "--spec",
        str(ROOT / "examples" / "dse-france.toml"),
    )
    assert code == 1 and "unknown purpose 'sms_ofers'" in err  # D12: a typo is not "blocked"
    code, out, _ = run("ledger", "export", "--db", db)
    assert code == 0 and [json.loads(line)["action"] for line in out.splitlines()] == [
        "grant",
        "grant",
        "opposition",
    ]
    code, out, _ = run("ledger", "export", "--db", db, "--format", "csv")
    assert code == 0 and len(list(csv.reader(out.splitlines()))) == 4


def test_verify_names_the_tampered_record(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    book = seeded(Path(db))
    second = [e.id for e in book.events()][1]
    engine = create_engine(database_url(db))
    with engine.begin() as conn:
        conn.execute(text("UPDATE optin_events SET purpose = 'ad_call' WHERE seq = 2"))
    code, _, err = run("ledger", "verify", "--db", db)
    assert code == 1
    assert err.strip() == (
        f"BROKEN at record {second} (#2): hash does not match the record's content"
    )


def test_import(tmp_path: Path) -> None:
    source = seeded(tmp_path / "a.db")
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(source.export("jsonl", texts=True)) + "\n", encoding="utf-8")
    db = str(tmp_path / "b.db")
    assert run("ledger", "import", str(export), "--db", db) == (0, "imported 3 records\n", "")
    lines = export.read_text(encoding="utf-8").splitlines()
    forged = json.loads(lines[-1])
    forged["action"] = "grant"
    export.write_text("\n".join([*lines[:-1], json.dumps(forged)]), encoding="utf-8")
    other = str(tmp_path / "c.db")
    code, _, err = run("ledger", "import", str(export), "--db", other)
    assert code == 1 and "hash does not match" in err
    assert Ledger(other).count() == 0


def test_audit_splits_a_purchased_list(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    seeded(Path(db))
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "name,mobile\nA,+33612345678\nB,06 12 34 56 79\nC,0612345670\nD,not a number\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, stdout, err = run(
        "audit",
        str(contacts),
        "--purpose",
        "sms_offers",
        "--db",
        db,
        "-o",
        str(out),
        "--region",
        "FR",
    )
    assert code == 0, err
    sendable = list(csv.DictReader((out / "sendable.csv").open(encoding="utf-8")))
    blocked = list(csv.DictReader((out / "blocked.csv").open(encoding="utf-8")))
    assert [r["name"] for r in sendable] == ["A"]
    assert {r["name"]: r["reason"].split(" on ")[0] for r in blocked} == {
        "B": "opposition by SMS",
        "C": "no consent recorded",
        "D": "invalid number",
    }
    assert stdout.splitlines()[0] == "4 contacts: 1 sendable, 3 blocked"
    assert (out / "summary.txt").read_text(encoding="utf-8").startswith("4 contacts")


def test_audit_bad_input(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    seeded(Path(db))
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,email\nA,a@example.org\n", encoding="utf-8")
    code, _, err = run(
        "audit", str(contacts), "-p", "sms_offers", "--db", db, "-o", str(tmp_path / "o")
    )
    assert code == 1 and "no phone column" in err
    code, _, err = run(
        "audit",
        str(contacts),
        "-p",
        "spam",
        "--db",
        db,
        "-o",
        str(tmp_path / "o"),
        "--column",
        "email",
        "--spec",
        DSE,
    )
    assert code == 1 and "unknown purpose 'spam'" in err
    code, _, err = run("ledger", "verify", "--db", "postgresql://optin@127.0.0.1:1/none")
    assert code == 1 and "cannot reach the ledger database" in err


def test_d8_reading_commands_refuse_a_ledger_that_does_not_exist(tmp_path: Path) -> None:
    """A typo in --db must not create an empty ledger and call it intact."""
    db = tmp_path / "typo.db"
    for command in (["ledger", "verify"], ["ledger", "export"]):
        code, out, err = run(*command, "--db", str(db))
        assert code == 1 and "no ledger at" in err and out == "", (command, err)
    code, _out, err = run("ledger", "status", "+33612345678", "-p", "sms_offers", "--db", str(db))
    assert code == 1 and "no ledger at" in err
    assert not db.exists() and not Path(f"{db}-writer.lock").exists()


def test_ledger_status_reads_the_spec_from_optin_spec_like_the_demo(tmp_path: Path) -> None:
    """newcomer.md: `ledger status` disagreed with the demo unless --spec was given; it now
    reads OPTIN_SPEC as the demo does."""
    from click.testing import CliRunner

    from toolkit.cli import main
    from toolkit.proof import Ledger

    db = str(tmp_path / "l.db")
    with Ledger(db) as book:
        book.count()
    sunday = "2026-12-06T10:30+01:00"  # French calls are never allowed on a Sunday
    args = ["ledger", "status", "06 12 34 56 78", "-p", "ad_call", "--region", "FR", "--db", db,
            "--at", sunday]  # fmt: skip
    plain = CliRunner().invoke(main, args)
    with_env = CliRunner().invoke(
        main, args, env={"OPTIN_SPEC": str(ROOT / "examples" / "dse-france.toml")}
    )
    assert "outside-hours" not in plain.output  # no spec: the consent record alone
    assert with_env.exit_code == 3 and "[outside-hours]" in with_env.output  # the law applies
