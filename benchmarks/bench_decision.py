"""The send-time decision with every check on, suppression lists, and the audit against them.

1. ``Ledger.can_send`` with every check (consent, the market's channel law, a 5M-entry
   suppression list, the consent's age, the call window, the attempt cap and the cool-down of
   French calls) on a 1,000,000-record ledger, next to today's bare consent lookup in the same
   run (``Ledger.status``: the latest record for a subject and purpose).
2. ``optin suppress import`` of 500,000 and 5,000,000 national-format numbers (a subprocess:
   wall time and peak RSS from ``wait4``).
3. ``optin audit`` of 100,000 and 1,000,000 numbers with the spec (so the channel law applies)
   against that ledger and the 5M list.

Goals (issue 10): can_send >= 0.5x the bare lookup; import of 5M < 60 s, audit of 1M <= 15 s,
memory flat (the big run's peak within 1.2x of the small one's).

Run: make bench   (or .venv/bin/python benchmarks/bench_decision.py [--records N])
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ledger import audit_run, build_ledger, timed

import toolkit
from toolkit.proof import Ledger
from toolkit.proof.records import LedgerError, normalise_subject

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "examples" / "dse-france.toml"
OPTIN = Path(sys.executable).with_name("optin")


def write_list(path: Path, count: int, seed: int) -> None:
    """National-format French mobile numbers (valid ones, as a registry holds)."""
    rng = random.Random(seed)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("phone\n")
        while written < count:
            number = f"06{rng.randint(1, 5)}{rng.randrange(10**7):07d}"
            try:
                normalise_subject(number, "FR")
            except LedgerError:
                continue
            out.write(number + "\n")
            written += 1


def decisions_per_second(book: Ledger, subjects: list[str], at: datetime) -> tuple[float, float]:
    """can_send with every check, and the bare lookup, on the same subjects (best of 3)."""
    best_full = best_bare = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for subject in subjects:
            book.can_send(subject, "ad_call", at=at)
        best_full = max(best_full, len(subjects) / (time.perf_counter() - start))
        start = time.perf_counter()
        for subject in subjects:
            book.status(subject, "ad_call")
        best_bare = max(best_bare, len(subjects) / (time.perf_counter() - start))
    return best_full, best_bare


def monday_morning() -> datetime:
    day = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=7)
    day -= timedelta(days=day.weekday())  # a Monday
    return datetime(day.year, day.month, day.day, 10, 30, tzinfo=ZoneInfo("Europe/Paris"))


def main() -> int:
    parser = argparse.ArgumentParser(description="decision benchmark")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--list", type=int, default=5_000_000, dest="list_size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "big.db"
        start = time.perf_counter()
        records = build_ledger(db, args.records)
        spec = toolkit.load_spec(SPEC_PATH)
        book = Ledger(db, spec=spec)
        versions = {a: toolkit.render(spec, a, "fr").version for a in ("checkbox", "notice-full")}
        calls = [f"+336{i * 2:08d}" for i in range(0, 20_000, 2)]
        book.append(
            [
                book.prepare(
                    s, "ad_call", "grant", method="web-form", versions=versions, locale="fr"
                )
                for s in calls
            ]
        )
        print(
            f"built a ledger of {args.records:,} people ({records:,} records) in"
            f" {time.perf_counter() - start:.0f} s"
        )
        small_list, big_list = work / "small.csv", work / "big.csv"
        write_list(small_list, args.list_size // 10, 1)
        write_list(big_list, args.list_size, 2)
        small_s, small_mib = timed(
            [
                str(OPTIN),
                "suppress",
                "import",
                str(small_list),
                "--list",
                "own-small",
                "--region",
                "FR",
                "--db",
                str(db),
            ]
        )
        big_s, big_mib = timed(
            [
                str(OPTIN),
                "suppress",
                "import",
                str(big_list),
                "--list",
                "bloctel",
                "--region",
                "FR",
                "--db",
                str(db),
            ]
        )
        print(
            f"optin suppress import: {args.list_size // 10:,} numbers {small_s:.1f} s, peak "
            f"{small_mib:.0f} MiB; {args.list_size:,} numbers {big_s:.1f} s, peak "
            f"{big_mib:.0f} MiB (goal < 60 s)"
        )
        at = monday_morning()
        rng = random.Random(7)
        subjects = [rng.choice(calls) for _ in range(5_000)]
        full, bare = decisions_per_second(Ledger(db, spec=spec), subjects, at)
        print(
            f"can_send, every check on: {full:,.0f}/s; bare consent lookup: {bare:,.0f}/s; "
            f"ratio {full / bare:.2f}x (goal >= 0.5x)"
        )
        audits = [
            audit_run(db, rows, work, "--spec", str(SPEC_PATH))
            for rows in (args.records // 10, args.records)
        ]
        (a_small, m_small), (a_big, m_big) = audits
        print(
            f"optin audit with the spec and the lists: {args.records // 10:,} numbers "
            f"{a_small:.1f} s, peak {m_small:.0f} MiB; {args.records:,} numbers {a_big:.1f} s, "
            f"peak {m_big:.0f} MiB (goal <= 15 s)"
        )
    ok = (
        full / bare >= 0.5
        and big_s < 60
        and a_big <= 15
        and big_mib < small_mib * 1.2
        and m_big < m_small * 1.2
    )
    print("goals:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
