"""Ledger speed: durable appends against bare SQLAlchemy inserts, and a 1M-contact audit.

1. Appends per second on SQLite with durable commits (WAL, synchronous=FULL), one event per
   transaction, through ``Ledger.record``; next to bare SQLAlchemy inserting one row per
   transaction into a one-table schema with the same settings, in the same run.
2. ``optin audit`` of 1,000,000 numbers against a ledger of 1,000,000 records (built in bulk
   for the benchmark), as a subprocess: wall time and peak memory, against 100,000 numbers.

Goals (issue 5): appends >= 0.5x bare inserts; audit of 1M numbers <= 10 s, memory flat.

Run: make bench   (or .venv/bin/python benchmarks/bench_ledger.py [--records N])
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

import toolkit
from toolkit.proof import ConsentEvent, Ledger
from toolkit.proof.records import new_event_id
from toolkit.proof.store import _sqlite_setup

APPENDS = 2000


def bare_inserts(path: Path, count: int) -> float:
    """Rows per second: one INSERT per durable transaction, SQLAlchemy Core, same pragmas."""
    engine = create_engine(f"sqlite:///{path}")
    _sqlite_setup(engine)
    meta = MetaData()
    table = Table("t", meta, Column("id", Integer, primary_key=True), Column("v", String(80)))
    meta.create_all(engine)
    start = time.perf_counter()
    for i in range(count):
        with engine.begin() as conn:
            conn.execute(insert(table).values(v=f"+336{i:08d}"))
    seconds = time.perf_counter() - start
    engine.dispose()
    return count / seconds


def ledger_appends(path: Path, count: int) -> float:
    book = Ledger(path)
    book.count()
    start = time.perf_counter()
    for i in range(count):
        book.record(f"+336{i:08d}", "sms_offers", "opposition", method="api", locale="fr")
    seconds = time.perf_counter() - start
    assert book.verify().ok
    book.close()
    return count / seconds


def build_ledger(path: Path, people: int) -> int:
    """A big ledger fast, one subject per person: 70% form grants each confirmed by a code
    typed on the page (double opt-in, as a real ledger holds them), 30% oppositions, chained
    10,000 records per transaction. Returns how many records it holds."""
    spec = toolkit.load_spec(Path(__file__).parent.parent / "examples" / "dse-france.toml")
    book = Ledger(path, spec=spec)
    versions = {"checkbox": book.remember(toolkit.render(spec, "checkbox", "fr"))}
    rng = random.Random(5)
    batch: list[ConsentEvent] = []
    records = 0
    for i in range(people):
        subject = f"+336{i * 2:08d}"
        if rng.random() < 0.7:
            item = book.prepare(
                subject, "sms_offers", "grant", method="web-form", versions=versions, locale="fr"
            )
            # the confirmation as Ledger.prepare builds it once the grant is stored (here the
            # grant is still in the batch, so its link is set directly)
            confirm = replace(
                item,
                id=new_event_id(),
                action="confirm",
                method="code",
                versions={},
                evidence={"confirms": item.id},
            )
            batch += [item, confirm]
        else:
            batch.append(
                book.prepare(subject, "sms_offers", "opposition", method="sms-reply", locale="fr")
            )
        if len(batch) >= 10_000:
            book.append(batch)
            records += len(batch)
            batch = []
    book.append(batch)
    records += len(batch)
    book.close()
    return records


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a subprocess."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return seconds, usage.ru_maxrss / 1024


def audit_run(db: Path, rows: int, workdir: Path, *extra: str) -> tuple[float, float]:
    """``optin audit`` of ``rows`` numbers (two thirds in the ledger), timed; ``extra``
    arguments are passed on (``--spec ...``)."""
    contacts = workdir / f"contacts-{rows}.csv"
    with contacts.open("w", encoding="utf-8") as fh:
        fh.write("name,phone\n")
        for i in range(rows):
            number = i * 2 if i % 3 else i * 2 + 1  # two thirds in the ledger, a third not
            fh.write(f"c{i},+336{number:08d}\n")
    optin = Path(sys.executable).with_name("optin")
    return timed(
        [
            str(optin),
            "audit",
            str(contacts),
            "--purpose",
            "sms_offers",
            "--db",
            str(db),
            "-o",
            str(workdir / f"out-{rows}"),
            *extra,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="ledger benchmark")
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bare = bare_inserts(work / "bare.db", APPENDS)
        ours = ledger_appends(work / "ledger.db", APPENDS)
        print(
            f"durable appends: bare SQLAlchemy {bare:,.0f}/s, Ledger.record {ours:,.0f}/s, "
            f"ratio {ours / bare:.2f}x (goal >= 0.5x)"
        )
        db = work / "big.db"
        start = time.perf_counter()
        records = build_ledger(db, args.records)
        print(
            f"built a ledger of {args.records:,} people ({records:,} records) in "
            f"{time.perf_counter() - start:.0f} s ({db.stat().st_size / 2**20:.0f} MiB)"
        )
        small_s, small_mib = audit_run(db, args.records // 10, work)
        big_s, big_mib = audit_run(db, args.records, work)
        print(
            f"optin audit: {args.records // 10:,} numbers {small_s:.1f} s, peak {small_mib:.0f} "
            f"MiB; {args.records:,} numbers {big_s:.1f} s, peak {big_mib:.0f} MiB"
        )
    ok = ours / bare >= 0.5 and big_s <= 10 and big_mib < small_mib * 1.2
    print("goals:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
