"""Several app servers on one PostgreSQL: capture under load, and verify at scale.

1. Load. A throwaway PostgreSQL server (initdb in a temporary folder, a free loopback port,
   fsync on, stopped at the end whatever happens) and two app servers in front of it: two
   separate gunicorn processes on two ports, each with its own master, preloaded app and ledger,
   2 worker processes x 4 threads each (4 processes writing to one chain), sharing nothing but
   the database and the session key. Each is driven by its own `wrk` (8 connections, 16 in all,
   20 s), posting the demo's real sign-up (CSRF token, session cookie, versions, a new number
   every time); next to a bare Flask endpoint served the same way that inserts one row per
   request into PostgreSQL (psycopg, autocommit), in the same run. wrk writes the record id of
   every acknowledged sign-up (303 to its receipt); after the run each must be in the ledger, and
   `Ledger.verify()` must pass.
2. Verify at scale, on PostgreSQL and on SQLite: a 1,000,000-record ledger built in bulk (as
   bench_ledger.py builds it), then left at rest (PostgreSQL: VACUUM ANALYZE and CHECKPOINT;
   both: the files synced), so the bulk load's writes do not land in the timings. `verify()`
   timed alone; then timed again while another process appends grants through
   `Ledger.record` at a steady 200/s. An append's latency is counted from the moment it was
   due (an append held up also delays the ones behind it, and each of them counts); the
   appends due during the verify give its p99.

The demo is served as it is (demo/gunicorn.conf.py, preloaded), its sign-up included the double
opt-in's confirmation message, which it keeps in an outbox file; only that outbox and the
receipts' signing key go to this run's temporary folder instead of the repository's instance/.
Every phase also reports where the CPU went (CPU per request, by process kind) and how many
cores other processes used meanwhile: the figures only compare on a machine nobody else uses.

Goals (issue 12, item 10): sign-ups >= 0.5x the bare PostgreSQL endpoint, 0 acknowledged records
lost, chain valid; `verify` of 1M records valid on both backends while appends continue; p99 of
an append during the verify < 100 ms on SQLite.

Run: .venv/bin/python benchmarks/bench_postgres.py [--seconds S] [--records N] [--part P]
(--part load or verify runs one half; --records 50000 tries the verify half quickly.)
(PostgreSQL's server binaries must be installed: Debian's postgresql package, as `make test`.)
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_capture
from bench_capture import demo_session, free_port, p99
from bench_ledger import build_ledger

import toolkit
from toolkit.proof import Ledger

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "dse-france.toml"
SERVERS = 2  # app servers, each a gunicorn master of its own
WORKERS = 2  # worker processes per app server (one per core here, as demo/gunicorn.conf.py)
THREADS = 4
CLIENTS = 16  # keep-alive connections in all, shared equally between the app servers
APPEND_RATE = 200  # appends a second while the verify runs
PARTS = ("app", "postgres", "wrk")  # where a request's CPU goes
BARE_APP = """
import threading
import psycopg
from flask import Flask, request
def create_app():
    app = Flask(__name__)
    local = threading.local()
    def db():
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(DSN, autocommit=True)
        return local.conn
    @app.post("/insert")
    def insert():
        db().execute("INSERT INTO t (v) VALUES (%s)", (request.form["phone"],))
        return "ok"
    return app
"""
# The demo as it is, except that what it keeps in its instance folder (the outbox of
# confirmation messages, the receipts' signing key) goes to this run's temporary folder.
DEMO_APP = """
from pathlib import Path
import demo
HERE = Path(__file__).resolve().parent
def create_app():
    # the rate limiter still runs, with a limit a load from one address never reaches
    config = {
        "OPTIN_SIGNING_KEY": str(HERE / "signing.key"),
        "OPTIN_FORM_RATE": "1000000000 per minute",
    }
    try:
        from toolkit.confirm import OutboxSender
        config["OPTIN_SENDER"] = OutboxSender(HERE / "outbox.jsonl")
    except ImportError:
        pass
    return demo.create_app(config)
"""
# bench_capture's wrk script, plus: every number is unique across the app servers (SERVER), and
# each wrk thread writes one line per answer it got, with the record id of each sign-up
# acknowledged by its 303 to the receipt (the bare endpoint's answers are written too, so both
# loads cost wrk the same).
WRK_SCRIPT = """
local n = 0
local id = 0
local out = nil
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  id = tonumber(wrk.thread:get("id"))
  out = io.open(string.format("%s-%d-%d.acks", OUT, SERVER, id), "w")
  out:setvbuf("line")
end
request = function()
  n = n + 1
  local body = BASE .. "&phone=%2B336" .. string.format("%d%d%06d", SERVER, id, n)
  return wrk.format("POST", PATH, HEADERS, body)
end
response = function(status, headers, body)
  local location = headers["Location"] or headers["location"] or ""
  out:write(status, " ", string.match(location, "ids=([0-9a-f%-]+)") or "-", "\\n")
end
"""


# --- a throwaway PostgreSQL server (as tests/conftest.py starts one) --------------------------


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit(
            "PostgreSQL is not installed: sudo apt-get install -y postgresql (its server "
            "binaries are enough; this benchmark starts its own server on a loopback port)"
        )
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as the 'postgres' user then."""
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_server() -> Iterator[tuple[str, str]]:
    """PostgreSQL in a temporary folder on a free loopback port, fsync on, otherwise its
    defaults; stopped and removed at the end whatever happens. Yields (URL without a database
    name, version)."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="optin-bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    run: dict[str, Any] = {"check": True, "capture_output": True, "text": True}
    started = False
    try:
        try:
            subprocess.run(
                _as_postgres(
                    [
                        str(bindir / "initdb"),
                        *("-D", str(data), "-U", "optin", "-A", "trust", "-E", "UTF8"),
                        "--no-sync",
                    ]
                ),
                **run,
            )
            options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
            started = True
            subprocess.run(
                _as_postgres(
                    [
                        str(bindir / "pg_ctl"),
                        *("-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"),
                    ]
                ),
                **run,
            )
            said = subprocess.run([str(bindir / "postgres"), "--version"], **run).stdout
            version = re.sub(r".*\(PostgreSQL\) (\S+).*", r"\1", said.strip())
            postmaster = int((data / "postmaster.pid").read_text().split()[0])
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"PostgreSQL did not start: {exc.stderr or exc.stdout}") from None
        Meter.roots.add(postmaster)
        yield f"postgresql+psycopg://optin@127.0.0.1:{port}", version
    finally:
        if started:
            subprocess.run(
                _as_postgres(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    """A new database on the server; its SQLAlchemy URL."""
    import psycopg

    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return f"{server}/{name}"


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class Meter:
    """Where the CPU went meanwhile, in cores: this run's processes by kind (the app servers,
    PostgreSQL's server and backends, wrk, this script) and everything else on the machine
    (other people's tests, say). Sampled while this run's processes all live."""

    roots: ClassVar[set[int]] = {os.getpid()}  # and the postmaster, once started

    def __init__(self) -> None:
        self.start = self.sample()

    @classmethod
    def sample(cls) -> tuple[float, int, dict[int, tuple[str, int]]]:
        """(now, busy jiffies of the machine, {pid: (kind, jiffies)} of this run's processes)."""
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        parents, used, names = {}, {}, {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                rest = stat[stat.rindex(")") + 2 :].split()
                pid = int(entry.name)
                parents[pid] = int(rest[1])
                used[pid] = int(rest[11]) + int(rest[12])
                names[pid] = stat[stat.index("(") + 1 : stat.rindex(")")]
        ours = {}
        for pid, jiffies in used.items():
            walk = pid
            while walk > 1 and walk not in cls.roots:
                walk = parents.get(walk, 0)
            if walk in cls.roots:
                if walk != os.getpid():
                    kind = "postgres"
                elif pid == os.getpid():
                    kind = "script"
                else:
                    kind = "wrk" if names[pid] == "wrk" else "app"
                ours[pid] = (kind, jiffies)
        return time.monotonic(), busy, ours

    def cores(self) -> dict[str, float]:
        """Cores used since this meter started, by kind, and by the others ("others"). A
        process of ours that ended meanwhile counts as theirs (this errs on their side)."""
        now, busy, ours = self.sample()
        then, busy0, ours0 = self.start
        scale = os.sysconf("SC_CLK_TCK") * (now - then)
        used: dict[str, float] = {}
        for pid, (kind, jiffies) in ours.items():
            used[kind] = used.get(kind, 0) + (jiffies - ours0.get(pid, (kind, 0))[1]) / scale
        used["others"] = max(0.0, (busy - busy0) / scale - sum(used.values()))
        return used


# --- load: app servers on gunicorn, driven by wrk ----------------------------------------------


def serve(
    app: str, env: dict[str, str], cwd: Path, workers: int, config: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """One app server: ``app`` on gunicorn (gthread, preloaded), on a free loopback port."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    options = ["-b", f"127.0.0.1:{port}", "-w", str(workers), "--threads", str(THREADS)]
    options += ["--no-control-socket", "--preload", "-k", "gthread"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    proc = subprocess.Popen(
        [str(gunicorn), *(["-c", str(config)] if config else []), *options, app],
        cwd=cwd,
        env={**environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"{app} stopped at start (exit code {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"{app} did not start")


@contextmanager
def servers(
    app: str, env: dict[str, str], cwd: Path, config: Path | None = None
) -> Iterator[list[int]]:
    """SERVERS app servers of ``app`` (see ``serve``): their ports, and all of them stopped
    when the block ends, whatever happens."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports = []
        for _ in range(SERVERS):
            proc, port = serve(app, env, cwd, WORKERS, config)
            procs.append(proc)
            ports.append(port)
        yield ports
    finally:
        stop(procs)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_wrk(
    port: int,
    seconds: float,
    path: str,
    base: str,
    headers: dict[str, str],
    server: int,
    out: Path,
    connections: int,
) -> subprocess.Popen[str]:
    """wrk against one app server, in the background (see WRK_SCRIPT)."""
    settings = {
        "BASE": json.dumps(base),
        "PATH": json.dumps(path),
        "HEADERS": "{" + ", ".join(f'["{k}"] = {json.dumps(v)}' for k, v in headers.items()) + "}",
        "SERVER": str(server),
        "OUT": json.dumps(str(out)),
    }
    script = out.with_name(f"{out.name}-{server}.lua")
    script.write_text(
        "\n".join(f"{k} = {v}" for k, v in settings.items()) + WRK_SCRIPT, encoding="utf-8"
    )
    threads = max(1, min(connections, 4 // SERVERS or 1))
    return subprocess.Popen(
        [
            shutil.which("wrk") or "wrk",
            *("-t", str(threads), "-c", str(connections), "-d", f"{int(seconds)}s"),
            *("--latency", "-s", str(script), f"http://127.0.0.1:{port}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wrk_result(proc: subprocess.Popen[str]) -> tuple[float, float, int]:
    """(req/s, p99 ms, answers not 2xx/3xx) from a finished wrk."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed: {err or out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert found is not None and p99_text is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(found.group(1)), float(p99_text.group(1)) * scale, int(bad.group(1)) if bad else 0


def drive(
    ports: list[int], seconds: float, path: str, demo: bool, work: Path, tag: str
) -> tuple[float, float, list[str], dict[int, int], dict[str, float]]:
    """The same load on every app server at once: (req/s in all, worst p99 ms, acknowledged
    record ids, answers by HTTP status, cores used meanwhile by this run and by others)."""
    per_server = CLIENTS // len(ports)
    if shutil.which("wrk") is None:  # bench_capture's Python clients, one set per server
        bench_capture.CLIENTS = per_server
        results: list[tuple[int, list[float], list[str]]] = []

        def one(port: int) -> None:
            results.append(bench_capture.load(port, seconds, demo))

        threads = [threading.Thread(target=one, args=(port,)) for port in ports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        answered = sum(n for n, _, _ in results)
        latencies = [x for _, lat, _ in results for x in lat]
        ids = [i for _, _, found in results for i in found]
        return answered / seconds, p99(latencies), ids, {303 if demo else 200: answered}, {}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    out = work / tag
    sessions = [demo_session(port) if demo else ("v=1", form) for port in ports]
    procs: list[subprocess.Popen[str]] = []
    try:
        for server, (port, (base, headers)) in enumerate(zip(ports, sessions, strict=True)):
            procs.append(start_wrk(port, seconds, path, base, headers, server, out, per_server))
        time.sleep(1)
        meter = Meter()
        time.sleep(max(0.5, seconds - 2))
        cores = meter.cores()
        rates, p99s = [], []
        for proc in procs:
            rate, latency, _errors = wrk_result(proc)
            rates.append(rate)
            p99s.append(latency)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    ids: list[str] = []
    statuses: dict[int, int] = {}
    for acks in work.glob(f"{tag}-*.acks"):
        for line in acks.read_text(encoding="utf-8").splitlines():
            status, record = line.split(" ", 1)
            statuses[int(status)] = statuses.get(int(status), 0) + 1
            if int(status) == 303 and record != "-":
                ids.extend(record.split(","))
    return sum(rates), max(p99s), ids, statuses, cores


def load_part(server: str, seconds: float, work: Path) -> dict[str, Any]:
    """Part 1: the bare endpoint, then the demo, on SERVERS app servers each."""
    import psycopg

    bare_url = create_database(server, "bare")
    with psycopg.connect(plain_dsn(bare_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v TEXT)")
    (work / "bare_app.py").write_text(
        f"DSN = {plain_dsn(bare_url)!r}\n" + BARE_APP, encoding="utf-8"
    )
    with servers("bare_app:create_app()", {}, work) as ports:
        bare_rate, bare_p99, _, _, bare_cores = drive(
            ports, seconds, "/insert", False, work, "bare"
        )
    url = create_database(server, "demo")
    Ledger(url).close()  # the schema, once, before the app servers start
    (work / "bench_demo.py").write_text(DEMO_APP, encoding="utf-8")
    env = {
        "PYTHONPATH": str(work),
        "OPTIN_DATABASE_URL": url,
        "OPTIN_SPEC": str(SPEC),
        "OPTIN_ADMIN_TOKEN": "bench-admin-token-0000",
        "OPTIN_SECRET_KEY": os.urandom(32).hex(),  # app servers behind one name share it
    }
    with servers("bench_demo:create_app()", env, ROOT, ROOT / "demo" / "gunicorn.conf.py") as ports:
        demo_rate, demo_p99, ids, statuses, demo_cores = drive(
            ports, seconds, "/?lang=fr", True, work, "demo"
        )
    with psycopg.connect(plain_dsn(url)) as conn:
        found = conn.execute(
            "SELECT count(*) FROM optin_events WHERE id = ANY(%s)", (ids,)
        ).fetchone()
    with Ledger(url) as book:
        stored = book.count()
        check = book.verify()
    return {
        "bare_rate": bare_rate,
        "bare_p99": bare_p99,
        "cores": (bare_cores, demo_cores),
        "demo_rate": demo_rate,
        "demo_p99": demo_p99,
        "statuses": statuses,
        "acknowledged": len(ids),
        "unique": len(set(ids)),
        "found": int(found[0]) if found else 0,
        "stored": stored,
        "check": check,
    }


# --- verify at scale, with appends going on -----------------------------------------------------


def appender(
    url: str, version: str, rate: float, ready: Event, stop: Event, results: Connection
) -> None:
    """In its own process: grants through ``Ledger.record`` at ``rate`` a second until told to
    stop; sends back (due, latency from due, failed) for each."""
    book = Ledger(url)
    versions = {"checkbox": version}
    for i in range(20):  # connection and statements warm
        book.record(
            f"+3375{i:07d}", "sms_offers", "grant", method="api", versions=versions, locale="fr"
        )
    ready.set()
    done: list[tuple[float, float, bool]] = []
    due = time.monotonic()
    i = 20
    while not stop.is_set():
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        failed = False
        try:
            book.record(
                f"+3375{i:07d}", "sms_offers", "grant", method="api", versions=versions, locale="fr"
            )
        except Exception:
            failed = True
        done.append((due, time.monotonic() - due, failed))
        due += 1 / rate
        i += 1
    book.close()
    results.send(done)


def at_rest(url: str) -> None:
    """Leave a bulk-built ledger as it would be at rest: PostgreSQL vacuumed (hint bits and the
    visibility map set, statistics taken) and checkpointed; every file written out."""
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
    os.sync()


def head_size(url: str) -> int | None:
    """PostgreSQL: the size of the chain-head table in bytes (each append updates its row)."""
    if not url.startswith("postgresql"):
        return None
    import psycopg

    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        row = conn.execute("SELECT pg_relation_size('optin_head')").fetchone()
    return int(row[0]) if row else None


def verify_part(url: str, records: int, label: str) -> dict[str, Any]:
    """Build ``records`` in bulk, verify alone, verify with appends, check the count."""
    start = time.perf_counter()
    # build_ledger makes 1.7 records a person (a grant and its confirmation, or an objection)
    records = build_ledger(url, round(records / 1.7))  # type: ignore[arg-type]  # a URL works
    built = time.perf_counter() - start
    at_rest(url)
    with Ledger(url) as book:
        meter = Meter()
        start = time.perf_counter()
        alone = book.verify()
        alone_s = time.perf_counter() - start
        others_alone = meter.cores()["others"]
    head_before = head_size(url)
    version = toolkit.render(toolkit.load_spec(SPEC), "checkbox", "fr").version
    context = multiprocessing.get_context("spawn")
    ready, halt = context.Event(), context.Event()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=appender, args=(url, version, APPEND_RATE, ready, halt, send))
    child.start()
    try:
        while not ready.wait(0.5):
            if not child.is_alive():
                raise SystemExit(f"{label}: the appender stopped at start")
        time.sleep(3)  # appends alone first, for comparison
        with Ledger(url) as book:
            meter = Meter()
            v_start = time.monotonic()
            busy = book.verify()
            v_end = time.monotonic()
            others_busy = meter.cores()["others"]
            head_after = head_size(url)
        time.sleep(1)
        halt.set()
        done: list[tuple[float, float, bool]] = receive.recv()
        child.join(60)
    finally:
        if child.is_alive():
            child.terminate()
            child.join()
    with Ledger(url) as book:
        total = book.count()
    during = [lat for due, lat, failed in done if v_start <= due <= v_end and not failed]
    before = [lat for due, lat, failed in done if due < v_start and not failed]
    failures = sum(1 for _, _, failed in done if failed)
    appended = 20 + len(done) - failures
    return {
        "label": label,
        "records": records,
        "built": built,
        "alone": alone,
        "alone_s": alone_s,
        "busy": busy,
        "busy_s": v_end - v_start,
        "during": during,
        "before": before,
        "failures": failures,
        "count_ok": total == records + appended,
        "total": total,
        "expected": records + appended,
        "others": (others_alone, others_busy),
        "head": (head_before, head_after),
    }


def describe(result: dict[str, Any]) -> str:
    during, before = result["during"] or [0.0], result["before"] or [0.0]
    ok = result["alone"].ok and result["busy"].ok
    return (
        f"{result['label']}: built {result['records']:,} records in {result['built']:.0f} s; "
        f"verify {result['alone_s']:.1f} s alone "
        f"({result['records'] / result['alone_s']:,.0f} records/s), "
        f"{result['busy_s']:.1f} s with appends, {'valid' if ok else 'BROKEN'}\n"
        f"  appends at {APPEND_RATE}/s during the verify: {len(during):,}, "
        f"p50 {sorted(during)[len(during) // 2] * 1000:.1f} ms, p99 {p99(during):.1f} ms, "
        f"max {max(during) * 1000:.1f} ms (before it: p99 {p99(before):.1f} ms); "
        f"failed {result['failures']}, ledger count "
        f"{'as expected' if result['count_ok'] else 'WRONG'} ({result['total']:,})\n"
        f"  other processes on the machine meanwhile: {result['others'][0]:.1f} cores during "
        f"the verify alone, {result['others'][1]:.1f} during the other"
        + (
            f"; chain-head table {result['head'][0] // 1024} KiB before the appends, "
            f"{result['head'][1] // 1024} KiB at the end of the verify"
            if result["head"][0] is not None
            else ""
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="several app servers on one PostgreSQL")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--part", choices=["all", "load", "verify"], default="all")
    args = parser.parse_args()
    # SIGTERM or SIGHUP end the run through the finally blocks: the server is always stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as (server, version):
        work = Path(tmp)
        print(f"PostgreSQL {version}, throwaway server on loopback (fsync on, its defaults)")
        if args.part in ("all", "load"):
            load = load_part(server, args.seconds, work)
            ratio = load["demo_rate"] / load["bare_rate"]
            lost = load["unique"] - load["found"]
            print(
                f"load generator: {'wrk' if shutil.which('wrk') else 'Python threads'}, "
                f"{CLIENTS} connections ({CLIENTS // SERVERS} per app server), "
                f"{args.seconds:.0f} s each; {SERVERS} app servers (gunicorn), "
                f"each {WORKERS} workers x {THREADS} threads"
            )
            print(
                f"bare Flask + PostgreSQL insert: {load['bare_rate']:,.0f} req/s, "
                f"p99 {load['bare_p99']:.1f} ms"
            )
            print(
                f"demo sign-up (ledger):          {load['demo_rate']:,.0f} req/s, "
                f"p99 {load['demo_p99']:.1f} ms, ratio {ratio:.2f}x (goal >= 0.5x)"
            )
            others = {k: v for k, v in load["statuses"].items() if k != 303}
            print(
                f"acknowledged sign-ups {load['acknowledged']:,} (other answers: "
                f"{others or 'none'}), in the ledger {load['found']:,} of {load['stored']:,}, "
                f"missing {lost}, chain "
                f"{'valid' if load['check'].ok else 'BROKEN: ' + load['check'].reason}"
            )
            for name, rate, cores in (
                ("bare", load["bare_rate"], load["cores"][0]),
                ("demo", load["demo_rate"], load["cores"][1]),
            ):
                if cores:
                    parts = {k: cores.get(k, 0) / rate * 1000 for k in PARTS}
                    print(
                        f"{name}: CPU per request {sum(parts.values()):.2f} ms ("
                        + ", ".join(f"{k} {ms:.2f}" for k, ms in parts.items())
                        + f"); other processes on the machine: {cores['others']:.1f} cores"
                    )
            if ratio < 0.5:
                failed.append(f"ratio {ratio:.2f}x")
            if lost or load["acknowledged"] != load["unique"]:
                failed.append(f"{lost} acknowledged sign-ups missing")
            if not load["check"].ok:
                failed.append("chain broken after the load")
        if args.part in ("all", "verify"):
            pg = verify_part(create_database(server, "big"), args.records, "PostgreSQL")
            print(describe(pg))
            lite = verify_part(f"sqlite:///{work / 'big.db'}", args.records, "SQLite")
            print(describe(lite))
            for result in (pg, lite):
                if not (result["alone"].ok and result["busy"].ok):
                    failed.append(f"{result['label']} verify")
                if result["failures"] or not result["count_ok"]:
                    failed.append(f"{result['label']} appends during the verify")
            if p99(lite["during"]) >= 100:
                failed.append(f"SQLite append p99 during verify {p99(lite['during']):.0f} ms")
    print("goals:", "met" if not failed else "MISSED: " + "; ".join(failed))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
