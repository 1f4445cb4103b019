"""Consent capture under load: the demo's sign-up against a bare Flask + SQLite insert.

Both are served the same way, as `make demo` serves the demo: gunicorn, one worker process per
core, 4 threads each (gthread), on loopback; 16 keep-alive connections post for 20 s each. The
demo's sign-up does everything a real one does: CSRF check, locale, form validation, phone
normalisation, one hash-chained ledger event with its versions and evidence, and the redirect
to the receipt. The bare endpoint inserts one row into SQLite with the same durability (WAL,
synchronous=FULL).

Goals (issue 6): >= 0.5x the bare endpoint's throughput, p99 < 50 ms, every acknowledged
sign-up in the ledger, chain valid.

Run: make bench   (or .venv/bin/python benchmarks/bench_capture.py [--seconds S])
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
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
WORKERS = os.cpu_count() or 1  # as demo/gunicorn.conf.py
THREADS = 4
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


def serve(
    app: str, env: dict[str, str], cwd: Path, config: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``app`` on gunicorn with the demo's worker and thread counts, on a free loopback port."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    options = ["-b", f"127.0.0.1:{port}", "-w", str(WORKERS), "--threads", str(THREADS)]
    options.append("--no-control-socket")
    proc = subprocess.Popen(
        [str(gunicorn), *(["-c", str(config)] if config else []), *options, "-k", "gthread", app],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{app} did not start")


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


WRK_SCRIPT = """
local n = 0
local id = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  id = tonumber(wrk.thread:get("id"))
end
request = function()
  n = n + 1
  local body = BASE .. "&phone=%2B336" .. string.format("%02d%06d", id, n)
  return wrk.format("POST", PATH, HEADERS, body)
end
"""


def wrk_load(
    port: int, seconds: float, path: str, base: str, headers: dict[str, str]
) -> tuple[float, float, int, int]:
    """wrk (C, so the load generator takes little CPU): (req/s, p99 ms, requests, errors)."""
    lua = (
        "\n".join(
            f"{k} = {v}"
            for k, v in {
                "BASE": json.dumps(base),
                "PATH": json.dumps(path),
                "HEADERS": "{"
                + ", ".join(f'["{k}"] = {json.dumps(v)}' for k, v in headers.items())
                + "}",
            }.items()
        )
        + WRK_SCRIPT
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
    done = subprocess.run(
        [
            shutil.which("wrk") or "wrk",
            "-t",
            "4",
            "-c",
            str(CLIENTS),
            "-d",
            f"{int(seconds)}s",
            "--latency",
            "-s",
            fh.name,
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99_text is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return rate, float(p99_text.group(1)) * scale, total, errors


def demo_session(port: int) -> tuple[str, dict[str, str]]:
    """A visitor's form fields (CSRF token, versions) and session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/?lang=fr")
    page = conn.getresponse()
    html = page.read().decode()
    cookie = page.getheader("Set-Cookie", "").split(";")[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields["consent_sms_offers"] = "sms_offers"
    conn.close()
    return urllib.parse.urlencode(fields), {
        "Cookie": cookie,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description="consent capture under load")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bare_app.py").write_text(
            f"PATH = {str(work / 'bare.db')!r}\n" + BARE_APP, encoding="utf-8"
        )
        bare, port = serve("bare_app:create_app()", {}, work)
        try:
            if use_wrk:
                bare_rate, bare_p99, _, _ = wrk_load(
                    port, args.seconds, "/insert", "v=1", form_type
                )
            else:
                n, lat, _ = load(port, args.seconds, demo=False)
                bare_rate, bare_p99 = n / args.seconds, p99(lat)
        finally:
            bare.terminate()
            bare.wait()
        db = work / "demo.db"
        env = {
            "OPTIN_DATABASE_URL": f"sqlite:///{db}",
            "OPTIN_ADMIN_TOKEN": "bench-admin-token-0000",
            # the rate limiter still runs, with a limit a load from one address never reaches
            "OPTIN_FORM_RATE": "1000000000 per minute",
        }
        demo, port = serve("demo:create_app()", env, ROOT, ROOT / "demo" / "gunicorn.conf.py")
        try:
            if use_wrk:
                base, headers = demo_session(port)
                demo_rate, demo_p99, total, errors = wrk_load(
                    port, args.seconds, "/?lang=fr", base, headers
                )
                acknowledged = total - errors
            else:
                n, lat, ids = load(port, args.seconds, demo=True)
                demo_rate, demo_p99, acknowledged = n / args.seconds, p99(lat), len(ids)
        finally:
            demo.terminate()
            demo.wait()
        from toolkit.proof import Ledger

        book = Ledger(db)
        stored = book.count()
        check = book.verify()
    print(
        f"load generator: {'wrk' if use_wrk else 'Python threads'}, {CLIENTS} connections, "
        f"{args.seconds:.0f} s each; gunicorn, {WORKERS} workers x {THREADS} threads"
    )
    print(f"bare Flask + SQLite insert: {bare_rate:,.0f} req/s, p99 {bare_p99:.1f} ms")
    print(
        f"demo sign-up (ledger):      {demo_rate:,.0f} req/s, p99 {demo_p99:.1f} ms, "
        f"ratio {demo_rate / bare_rate:.2f}x"
    )
    # wrk counts requests it sent and answered 2xx/3xx; some answered as the run stopped may
    # still be counted, so the ledger must hold at least every acknowledged sign-up.
    lost = max(0, acknowledged - stored)
    print(
        f"acknowledged sign-ups {acknowledged:,}, in the ledger {stored:,}, missing {lost}, "
        f"chain {'valid' if check.ok else 'BROKEN: ' + check.reason}"
    )
    ok = demo_rate / bare_rate >= 0.5 and demo_p99 < 50 and lost == 0 and check.ok
    print("goals:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
