"""How long the ``optin`` command takes to start: ``--version``, ``--help`` and ``render``.

Each command is run N times as a new process, interleaved with two baselines run in the same
rounds: ``python -c pass`` (the interpreter alone) and ``python -c "import click"`` (the least
any click command can cost). It prints, per command, the median and the best wall time, the
median CPU time (user + system, from the process's own rusage: less sensitive to other
processes on a shared machine), and the ratio of each to the same figure of the baselines.
A third reference, "import render's libraries", imports the libraries ``optin render`` needs
(click, Jinja2, Babel, phonenumbers, email-validator, pydantic) and nothing of the toolkit.

    .venv/bin/python benchmarks/bench_cli.py --runs 20
    .venv/bin/python benchmarks/bench_cli.py --runs 20 --cold    # no compiled-template cache
    .venv/bin/python benchmarks/bench_cli.py --source /tmp/old   # a checkout of another commit

By default the commands run as a user would, with the compiled templates kept in a cache
directory of this run (filled by one run before the timing); ``--cold`` gives each run an
empty cache, as the very first run after installing. ``--source DIR`` runs the toolkit of DIR
(``git archive`` of another commit, with the compiled catalogs copied in) instead of the installed
one, through ``python -c "from toolkit.cli import entry; entry()"``: the console script does the
same, so before and after compare alike when both are run that way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
OPTIN = str(Path(PYTHON).with_name("optin"))
SPEC = str(ROOT / "examples" / "newsletter.toml")

ENTRY = "import sys; from toolkit.cli import entry; sys.argv[0] = 'optin'; entry()"
#: the libraries ``optin render`` cannot do without, imported alone: its floor
RENDER_DEPS = (
    "import click, jinja2, babel.dates, babel.lists, babel.support, babel.units, phonenumbers, "
    "email_validator; from pydantic import BaseModel"
)


def commands(optin: list[str]) -> dict[str, list[str]]:
    """The baselines, then each command as ``optin`` runs it."""
    return {
        "python -c pass": [PYTHON, "-c", "pass"],
        "python -c 'import click'": [PYTHON, "-c", "import click"],
        "import render's libraries": [PYTHON, "-c", RENDER_DEPS],
        "optin --version": [*optin, "--version"],
        "optin --help": [*optin, "--help"],
        "optin render (checkbox, en)": [*optin, "render", SPEC, "-a", "checkbox", "-l", "en"],
        "optin sms analyze": [*optin, "sms", "analyze", "Bonjour, votre diagnostic est prêt"],
    }


GOALS_MS = {"optin --version": 100.0, "optin render (checkbox, en)": 200.0}


def run_once(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` (its output thrown away)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    parser.add_argument("--cold", action="store_true", help="an empty template cache each run")
    parser.add_argument("--source", type=Path, help="run the toolkit of this directory")
    args = parser.parse_args()

    env = dict(os.environ)
    if args.source is None:
        table = commands([OPTIN])
    else:
        table = commands([PYTHON, "-c", ENTRY])
        env["PYTHONPATH"] = str(args.source.resolve())
    with tempfile.TemporaryDirectory(prefix="optin-bench-cli-") as tmp:
        env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        # bytecode as an installed package has it (pip compiles it on install), written to a
        # folder of this run: with PYTHONDONTWRITEBYTECODE, each run would compile every
        # module of the toolkit from its source again (31 ms for cli.py alone)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        where = subprocess.run(
            [PYTHON, "-c", "import toolkit; print(toolkit.__file__)"],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"toolkit from {where}")
        for argv in table.values():  # warm-up: the OS caches, the template cache
            run_once(argv, env, tmp)
        walls: dict[str, list[float]] = {name: [] for name in table}
        cpus: dict[str, list[float]] = {name: [] for name in table}
        for i in range(args.runs):
            for name, argv in table.items():  # interleaved: noise hits every command alike
                if args.cold:
                    env["XDG_CACHE_HOME"] = str(Path(tmp) / f"cold-{i}-{len(walls[name])}")
                wall, cpu = run_once(argv, env, tmp)  # not here: '' on sys.path
                walls[name].append(wall)
                cpus[name].append(cpu)

    base = statistics.median(walls["python -c pass"])
    click_wall = statistics.median(walls["python -c 'import click'"])
    click_cpu = statistics.median(cpus["python -c 'import click'"])
    print(
        f"{args.runs} runs each, interleaved; template cache {'cold' if args.cold else 'warm'};"
        f" Python {sys.version.split()[0]}, {os.cpu_count()} cores;"
        f" toolkit {args.source or 'installed'}"
    )
    print(
        f"{'command':30} {'median':>8} {'best':>8} {'cpu':>8} {'x pass':>7} {'x click':>8}"
        f" {'cpu x click':>11}"
    )
    for name in table:
        median = statistics.median(walls[name])
        print(
            f"{name:30} {median * 1000:6.0f}ms {min(walls[name]) * 1000:6.0f}ms"
            f" {statistics.median(cpus[name]) * 1000:6.0f}ms {median / base:6.1f}x"
            f" {median / click_wall:7.2f}x {statistics.median(cpus[name]) / click_cpu:10.2f}x"
        )
    for name, goal in GOALS_MS.items():
        median = statistics.median(walls[name]) * 1000
        verdict = "met" if median <= goal else "MISSED"
        print(f"goal {name} <= {goal:.0f} ms: median {median:.0f} ms, {verdict}")


if __name__ == "__main__":
    main()
