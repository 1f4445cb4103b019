"""The optin command starts fast because each command imports only what it needs (issue 14
item 7). These tests read which modules a run imported (``python -X importtime``), not how long
it took: timings live in benchmarks/bench_cli.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import ROOT

import toolkit

OPTIN = str(Path(sys.executable).with_name("optin"))
NEWSLETTER = str(ROOT / "examples" / "newsletter.toml")
#: what a short command must not pay for
HEAVY = {
    "jinja2",
    "weasyprint",
    "sqlalchemy",
    "pydantic",
    "babel",
    "phonenumbers",
    "cryptography",
    "email_validator",
    "holidays",
    "toolkit.proof",
    "toolkit.render",
    "toolkit.spec",
}


def run_optin(*args: str, cache: Path | None = None) -> tuple[set[str], str]:
    """Run the installed ``optin`` with ``args``: (the top-level names of every module it
    imported, its stdout)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}  # = python -X importtime
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run(
        [OPTIN, *args], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            modules.add(name)
            modules.add(name.split(".")[0])
    assert "click" in modules  # the importtime output was read
    return modules, done.stdout


def test_version_imports_click_and_nothing_heavy() -> None:
    modules, out = run_optin("--version")
    assert out.strip() == f"optin, version {toolkit.__version__}"
    assert not modules & HEAVY, sorted(modules & HEAVY)
    assert "importlib.metadata" not in modules  # the version is a constant, not looked up


def test_help_lists_every_command_with_its_help_and_imports_nothing_heavy() -> None:
    from toolkit.cli import main

    modules, out = run_optin("--help")
    assert not modules & HEAVY, sorted(modules & HEAVY)
    listed = out.split("Commands:", 1)[1]
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None
        summary = command.get_short_help_str(limit=40)
        assert summary, name
        assert any(
            line.split()[:1] == [name] and summary[:20] in line for line in listed.splitlines()
        ), (name, summary, listed)


def test_render_needs_no_ledger_pdf_or_signing(tmp_path: Path) -> None:
    modules, out = run_optin(
        "render", NEWSLETTER, "-a", "checkbox", "-l", "en", cache=tmp_path / "cache"
    )
    assert out.startswith('<fieldset class="optin-consent" lang="en" dir="ltr">')
    unwanted = {"weasyprint", "sqlalchemy", "cryptography", "toolkit.proof", "holidays"}
    assert not modules & unwanted, sorted(modules & unwanted)


def test_sms_analyze_needs_no_renderer() -> None:
    modules, out = run_optin("sms", "analyze", "Bonjour")
    assert out.startswith("GSM-7")
    assert not modules & HEAVY, sorted(modules & HEAVY)


def test_the_package_names_stay_what_they_were() -> None:
    """``toolkit`` imports its names on first use; ``toolkit.render`` is still the function
    although the submodule of that name is imported too."""
    code = (
        "import toolkit, toolkit.render, sys; from toolkit import *; "
        "assert 'toolkit.render' in sys.modules and callable(toolkit.render), toolkit.render; "
        "assert render is toolkit.render is sys.modules['toolkit.render'].render; "
        "assert ARTEFACTS is sys.modules['toolkit.render'].ARTEFACTS; "
        "assert load_spec.__module__ == 'toolkit.spec'; "
        "assert SpecError.__module__ == 'toolkit.errors'; "
        "print(toolkit.render(load_spec(sys.argv[1]), 'checkbox', 'de').version)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, NEWSLETTER], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sha256:")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = toolkit.nothing  # type: ignore[attr-defined]


def test_compiled_templates_are_kept_and_give_the_same_artefact(tmp_path: Path) -> None:
    """The second run reads the compiled templates from the user's cache; a damaged entry is
    compiled again, never an error; a directory others may write to is not used."""
    cache = tmp_path / "cache"
    args = ("render", NEWSLETTER, "-a", "notice-full", "-l", "fr", "--format", "json")
    _, first = run_optin(*args, cache=cache)
    (kept,) = (cache / "optin-toolkit").iterdir()
    entries = sorted(kept.iterdir())
    assert entries and stat.S_IMODE(kept.stat().st_mode) == 0o700
    _, second = run_optin(*args, cache=cache)
    assert second == first
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:40])  # cut short
    _, third = run_optin(*args, cache=cache)
    assert third == first

    shared = tmp_path / "shared"
    (shared / "optin-toolkit" / kept.name).mkdir(parents=True)
    (shared / "optin-toolkit" / kept.name).chmod(0o777)
    _, fourth = run_optin(*args, cache=shared)
    assert fourth == first
    assert not list((shared / "optin-toolkit" / kept.name).iterdir())
