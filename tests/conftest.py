"""Shared fixtures: the example specs and a small valid spec to vary in tests."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

import toolkit
from toolkit.spec import Spec, validate_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
# the locales both examples have and the tests' hand-written expectations cover
LOCALES = ("fr", "en", "de", "es", "it")


def run(*args: str) -> tuple[int, str, str]:
    """Run the optin command in-process: (exit code, stdout, stderr); never a traceback."""
    from click.testing import CliRunner

    from toolkit.cli import main

    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def minimal_data(locales: tuple[str, ...] = ("fr", "en")) -> dict[str, Any]:
    """A small valid spec as a dict: one consent purpose by SMS, French controller."""
    texts = {
        "fr": ("Offres par SMS", "Vous envoyer nos offres.", "J'accepte les offres par SMS."),
        "en": ("Offers by SMS", "Sending you our offers.", "I agree to offers by SMS."),
        "de": ("Angebote per SMS", "Wir senden Ihnen Angebote.", "Ich willige in SMS ein."),
        "es": ("Ofertas por SMS", "Enviarle nuestras ofertas.", "Acepto ofertas por SMS."),
        "it": ("Offerte via SMS", "Inviarle le nostre offerte.", "Acconsento alle offerte SMS."),
    }
    return {
        "locales": list(locales),
        "notice_url": "https://example.fr/donnees",
        "controller": {"name": "Exemple SARL", "country": "FR", "email": "rgpd@example.fr"},
        "purposes": [
            {
                "id": "sms_offers",
                "channel": "sms",
                "legal_basis": "consent",
                "retention": "P3Y",
                "retention_from": "collection",
                "text": {
                    loc: {
                        "name": texts[loc][0],
                        "description": texts[loc][1],
                        "label": texts[loc][2],
                    }
                    for loc in locales
                },
            }
        ],
        "sms": {"sender": "EXEMPLE", "opt_out_number": "36111"},
        "proof": {"retention": "P5Y"},
    }


API_TOKEN = "consent-api-token"  # the demo's consent API token in tests (never the admin's)
API = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(autouse=True)
def _demo_files_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps a test creates keep their outbox and signing key in the test's folder, never in
    the repository's instance/."""
    monkeypatch.setenv("OPTIN_OUTBOX", str(tmp_path / "outbox.jsonl"))
    monkeypatch.setenv("OPTIN_SIGNING_KEY", str(tmp_path / "signing.key"))
    # as `make demo` runs it: unsigned webhooks allowed (tests of signatures turn it off)
    monkeypatch.setenv("OPTIN_WEBHOOK_UNSIGNED", "1")
    monkeypatch.setenv("OPTIN_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("OPTIN_ADMIN_SESSIONS", str(tmp_path / "admin-sessions.db"))
    # the optin command keeps compiled templates in the user's cache: the tests' own, here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path.parent / "xdg-cache"))


@pytest.fixture
def data() -> dict[str, Any]:
    """A fresh copy of the minimal spec data, free to modify."""
    return copy.deepcopy(minimal_data())


@pytest.fixture(scope="session")
def examples() -> dict[str, Spec]:
    """Every spec in examples/, loaded once."""
    return {path.stem: toolkit.load_spec(path) for path in EXAMPLES}


def build(data: dict[str, Any]) -> Spec:
    """Validate a spec dict (fresh object, so nothing is memoised across tests)."""
    return validate_spec(copy.deepcopy(data))


# --- PostgreSQL: a throwaway server on a loopback port, for the whole test session ------------

import glob  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL is not installed: run 'make test' as root (it installs Debian's "
            "postgresql), or: sudo apt-get install -y postgresql",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as the 'postgres' user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL in a temporary folder on a free loopback port; stop it at the end."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="optin-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "optin",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        **run,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ]
        ),
        **run,
    )
    try:
        yield f"postgresql+psycopg://optin@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ledger database on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    server = request.getfixturevalue("postgres_server")
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return f"{server}/{name}"


@contextmanager
def demo_server(
    database_url: str, env: dict[str, str | None] | None = None
) -> Iterator[tuple[str, Callable[[], str]]]:
    """The demo as ``make demo`` serves it: gunicorn with demo/gunicorn.conf.py, two workers,
    on a free loopback port (``env``: OPTIN_* settings, None to leave one unset). Yields its
    address and a function returning its output so far."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")
    settings: dict[str, str | None] = {
        "OPTIN_DATABASE_URL": database_url,
        "OPTIN_WORKERS": "2",
        "OPTIN_ADMIN_TOKEN": "test-token-of-the-demo",
        "OPTIN_OUTBOX": str(Path(log.name).with_suffix(".outbox.jsonl")),
        "OPTIN_SIGNING_KEY": str(Path(log.name).with_suffix(".key")),
        "OPTIN_ADMIN_SESSIONS": str(Path(log.name).with_suffix(".sessions.db")),
        "OPTIN_WEBHOOK_UNSIGNED": "1",
        "OPTIN_API_TOKEN": API_TOKEN,
        "OPTIN_FORM_RATE": "10000 per minute",  # tests sign up many people from one address
        **(env or {}),
    }
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            str(ROOT / "demo" / "gunicorn.conf.py"),
            "-b",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env={**environ, **{k: v for k, v in settings.items() if v is not None}},
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def output() -> str:
        log.flush()
        return Path(log.name).read_text(encoding="utf-8")

    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"the demo server stopped:\n{output()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, f"the demo server did not answer:\n{output()}"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", output
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def audited_list(client: Any, page: Any, headers: dict[str, str]) -> str:
    """The CSV the demo's audit page offers for download (the page shows the summary)."""
    found = re.search(r'href="(/admin/audit/[A-Za-z0-9_-]+\.csv)"', page.get_data(as_text=True))
    assert found is not None, page.get_data(as_text=True)[:300]
    return str(client.get(found.group(1), headers=headers).get_data(as_text=True))
