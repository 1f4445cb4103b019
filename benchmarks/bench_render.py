"""Renders per second of checkbox + short notice, per locale, against raw Jinja2.

The baseline is plain Jinja2 rendering the same markup (the same template sources, loaded
from an in-memory dict) with a context built once outside the timing: what a developer would
get by hand. Measured in the same process, best of several repeats:

- warm: ``toolkit.render`` on a spec it has seen (artefacts are memoised per frozen spec);
- cold: the whole pipeline every time (context, Jinja2, text extraction, sha256), memo cleared.

Run: make bench   (or .venv/bin/python benchmarks/bench_render.py [--seconds S])
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jinja2

import toolkit
from toolkit.context import build_context
from toolkit.render import ENVIRONMENT, clear_cache

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "dse-france.toml"
ARTEFACTS = ("checkbox", "notice-short")


def rates(fns: list[Callable[[], object]], seconds: float, rounds: int = 7) -> list[float]:
    """Best calls per second of each fn; rounds interleave the fns so drift hits all alike."""
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            calls, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds / rounds:
                for _ in range(20):
                    fn()
                calls += 20
            best[i] = max(best[i], calls / elapsed)
    return best


def raw_jinja(locale: str, spec: toolkit.Spec) -> Callable[[], object]:
    """Plain Jinja2: same template sources, inline (DictLoader), context prepared once."""
    templates = ROOT / "templates"
    sources = {p.name: p.read_text(encoding="utf-8") for p in templates.iterdir() if p.is_file()}
    env = jinja2.Environment(
        loader=jinja2.DictLoader(sources),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    # the templates' own filter and global (the <bdi> isolation, the direction)
    env.filters["bdi"] = ENVIRONMENT.filters["bdi"]
    env.globals["direction"] = ENVIRONMENT.globals["direction"]
    variables = build_context(spec, locale).as_dict()
    variables["versions"] = {a: "" for a in ("notice-short", "notice-full")}
    variables["self_version"] = ""
    compiled = [env.get_template(f"{a}.html") for a in ARTEFACTS]

    def run() -> object:
        return [t.render(variables) for t in compiled]

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    spec = toolkit.load_spec(SPEC)
    print(
        f"{'locale':<7}{'raw jinja2/s':>14}{'warm/s':>12}{'warm ratio':>12}"
        f"{'cold/s':>10}{'cold ratio':>12}"
    )
    worst = float("inf")
    for locale in spec.locales:

        def warm(locale: str = locale) -> object:
            return [toolkit.render(spec, a, locale) for a in ARTEFACTS]

        def cold(locale: str = locale) -> object:
            clear_cache(spec)
            return [toolkit.render(spec, a, locale) for a in ARTEFACTS]

        raw_rate, warm_rate, cold_rate = rates([raw_jinja(locale, spec), warm, cold], args.seconds)
        worst = min(worst, warm_rate / raw_rate)
        print(
            f"{locale:<7}{raw_rate:>14,.0f}{warm_rate:>12,.0f}{warm_rate / raw_rate:>11.1f}x"
            f"{cold_rate:>10,.0f}{cold_rate / raw_rate:>11.2f}x"
        )
    goal = 0.8
    print(
        f"worst warm ratio {worst:.1f}x (goal >= {goal}x): {'met' if worst >= goal else 'MISSED'}"
    )
    return 0 if worst >= goal else 1


if __name__ == "__main__":
    sys.exit(main())
