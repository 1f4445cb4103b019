"""The admin page at scale (issue 14, item 2): a view must not grow with the ledger.

Builds a ledger of ``--people`` people (about 1.7 records each, as bench_ledger builds them),
then, through the demo app in this process (Flask's test client, signed in by token):

1. the baseline: the admin sign-in page, which renders the same base template and reads no
   ledger (ratios below are against it, measured in the same run);
2. the whole-chain verification on demand (``POST /admin/verify``), once;
3. a view after sign-ups: 200 records appended before each of 10 views (the quick check
   reads only those), then 2,000 before each of 5 (the most one view checks);
4. a view with nothing new; an old page of records (``?before=`` half-way); one person's
   history (``/admin/person``);
5. for comparison, what the page did before (a full verify and every record read to keep the
   last 50) on a ledger of ``--old-people``.

Goal: a view < 200 ms with 1M people. Run: .venv/bin/python benchmarks/bench_admin.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_ledger import build_ledger

from demo import create_app
from toolkit.proof import Ledger
from toolkit.proof.verification import STEP

TOKEN = "bench-admin-token-0123456789"  # noqa: S105 - a benchmark's own app
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def median_ms(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def old_view_s(db: Path) -> float:
    """What the page did before this issue: verify everything, read everything, keep 50."""
    book = Ledger(db)
    start = time.perf_counter()
    assert book.verify().ok
    last = list(book.events())[-50:]
    assert len(last) == 50
    book.close()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description="admin page benchmark")
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--old-people", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse this ledger (built by a previous run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = args.db or work / "big.db"
        if args.db is None or not args.db.exists():
            start = time.perf_counter()
            records = build_ledger(db, args.people)
            print(f"built {records:,} records in {time.perf_counter() - start:.0f} s")
        app = create_app(
            {
                "OPTIN_DATABASE_URL": f"sqlite:///{db}",
                "OPTIN_ADMIN_TOKEN": TOKEN,
                "OPTIN_OUTBOX": str(work / "outbox.jsonl"),
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
            }
        )
        client = app.test_client()
        book: Ledger = app.extensions["optin"].ledger
        head = book.head()
        print(f"ledger: {head.records:,} records")

        def view(path: str = "/admin/?lang=fr") -> None:
            response = client.get(path, headers=BEARER)
            assert response.status_code == 200, response.status_code

        baseline = median_ms(lambda: client.get("/admin/?lang=fr"), 20)
        start = time.perf_counter()
        done = client.post("/admin/verify", headers=BEARER)
        app.extensions["optin_full_verify"]["thread"].join()  # it runs in the background
        full_s = time.perf_counter() - start
        assert done.status_code == 303 and book.last_check(full=True).ok  # type: ignore[union-attr]
        counter = iter(range(10**7))

        def after_sign_ups(count: int) -> None:
            book.append(
                [
                    book.prepare(
                        f"+3375{next(counter):07d}",
                        "sms_offers",
                        "opposition",
                        method="phone",
                        locale="fr",
                    )
                    for _ in range(count)
                ]
            )

        fresh, most = [], []
        for _ in range(10):
            after_sign_ups(200)
            fresh.append(median_ms(view, 1))
        for _ in range(5):
            after_sign_ups(STEP)
            most.append(median_ms(view, 1))
        quiet = median_ms(view, 20)
        deep = median_ms(lambda: view(f"/admin/?lang=fr&before={head.seq // 2}"), 20)
        person = median_ms(lambda: view("/admin/person?lang=fr&q=%2B33600000000"), 20)
        book.close()
        old_db = work / "old.db"
        build_ledger(old_db, args.old_people)
        old = old_view_s(old_db)
    fresh_ms = statistics.median(fresh)
    print(f"baseline (sign-in page, no ledger): {baseline:.1f} ms")
    print(f"whole-chain verification on demand: {full_s:.1f} s")
    rows = [
        ("view after 200 new records", fresh_ms),
        (f"view after {STEP:,} (the most one checks)", statistics.median(most)),
        ("view, nothing new", quiet),
        ("old page of records (half-way)", deep),
        ("one person's history", person),
    ]
    for name, ms in rows:
        print(f"{name:<34} {ms:7.1f} ms  {ms / baseline:5.1f}x baseline  (goal < 200 ms)")
    print(f"before this issue, one view at {args.old_people:,} people: {old:.2f} s")
    return 0 if max(ms for _name, ms in rows) < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
