"""Consent capture under load: the demo's sign-up against a bare Flask + SQLite insert.

Both run on waitress (8 threads) in their own process on loopback; 16 client threads post for
20 s each (keep-alive connections). The demo's sign-up does everything a real one does: CSRF
check, locale, form validation, phone normalisation, one hash-chained ledger event with its
versions and evidence, and the receipt page. The bare endpoint inserts one row into SQLite with
the same durability (WAL, synchronous=FULL).

Goals (issue 6): >= 0.5x the bare endpoint's throughput, p99 < 50 ms, every acknowledged
sign-up in the ledger, chain valid.

Run: make bench   (or .venv/bin/python benchmarks/bench_capture.py [--seconds S])
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16
BARE_APP = """
import sqlite3, threading
from flask import Flask, request
def create_app():
    app = Flask(__name__)
    local = threading.local()
    def db():
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(PATH, isolation_level=None, timeout=60)
            local.conn.execute("PRAGMA journal_mode=WAL")
            local.conn.execute("PRAGMA synchronous=FULL")
            local.conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        return local.conn
    @app.post("/insert")
    def insert():
        db().execute("INSERT INTO t (v) VALUES (?)", (request.form["phone"],))
        return "ok"
    return app
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(call: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    waitress = Path(sys.executable).with_name("waitress-serve")
    proc = subprocess.Popen(
        [
            str(waitress),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            "8",
            "--call",
            call,
        ],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{call} did not start")


def load(port: int, seconds: float, demo: bool) -> tuple[int, list[float], list[str]]:
    """Clients posting for `seconds`; returns (acknowledged, latencies, acknowledged hashes)."""
    latencies: list[float] = []
    hashes: list[str] = []
    counter = iter(range(10_000_000))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        fields: dict[str, str] = {}
        if demo:
            conn.request("GET", "/?lang=fr")
            page = conn.getresponse()
            html = page.read().decode()
            cookie = page.getheader("Set-Cookie", "").split(";")[0]
            headers["Cookie"] = cookie
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
            fields["consent_sms_offers"] = "sms_offers"
        while time.monotonic() < deadline:
            with lock:
                n = next(counter)
            body = urllib.parse.urlencode({**fields, "phone": f"+336{n:08d}"})
            start = time.perf_counter()
            conn.request("POST", "/?lang=fr" if demo else "/insert", body, headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            if response.status in (200, 303):
                with lock:
                    latencies.append(elapsed)
                    if demo:  # acknowledged: redirected to the receipt of the new record
                        found = re.search(
                            r"ids=([0-9a-f-]{36})", response.getheader("Location", "")
                        )
                        if found:
                            hashes.append(found.group(1))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies, hashes


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description="consent capture under load")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bare_app.py").write_text(
            f"PATH = {str(work / 'bare.db')!r}\n" + BARE_APP, encoding="utf-8"
        )
        bare, port = serve("bare_app:create_app", {}, work)
        try:
            bare_n, bare_lat, _ = load(port, args.seconds, demo=False)
        finally:
            bare.terminate()
            bare.wait()
        db = work / "demo.db"
        env = {"OPTIN_DATABASE_URL": f"sqlite:///{db}", "OPTIN_ADMIN_TOKEN": "bench"}
        demo, port = serve("demo:create_app", env, ROOT)
        try:
            demo_n, demo_lat, hashes = load(port, args.seconds, demo=True)
        finally:
            demo.terminate()
            demo.wait()
        from toolkit.proof import Ledger

        book = Ledger(db)
        stored = {event.id for event in book.events()}
        check = book.verify()
    bare_rate, demo_rate = bare_n / args.seconds, demo_n / args.seconds
    print(f"bare Flask + SQLite insert: {bare_rate:,.0f} req/s, p99 {p99(bare_lat):.1f} ms")
    print(
        f"demo sign-up (ledger):      {demo_rate:,.0f} req/s, p99 {p99(demo_lat):.1f} ms, "
        f"ratio {demo_rate / bare_rate:.2f}x"
    )
    lost = len(set(hashes) - stored)
    print(
        f"acknowledged sign-ups {len(hashes):,}, in the ledger {len(stored):,}, missing {lost}, "
        f"chain {'valid' if check.ok else 'BROKEN: ' + check.reason}"
    )
    ok = demo_rate / bare_rate >= 0.5 and p99(demo_lat) < 50 and lost == 0 and check.ok
    print("goals:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
