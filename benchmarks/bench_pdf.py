"""PDF pack speed and memory: the toolkit's export next to raw WeasyPrint, cold and in batch.

1. Same document, same process: ``export_pdf`` against raw WeasyPrint writing the same HTML
   (``HTML(string=...).write_pdf(stylesheets=[CSS(string=...)])``, as a developer would).
2. Cold single export: a fresh process that imports the toolkit and exports one pack.
3. Batch: 50 spec variants (name and retention changed) exported in one process; the
   per-document time against the cold one, and resident memory across the batch.

Goals (issue 4): <= 1.1x raw WeasyPrint; per-document batch time >= 1.5x better than a cold
single export; memory flat across the batch.

Run: make bench   (or .venv/bin/python benchmarks/bench_pdf.py [--batch N])
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import toolkit
from toolkit.pdf import PACK_CSS, export_pdf, pack_html
from toolkit.spec import Spec, validate_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "dse-france.toml"
LOCALES = ["fr", "en"]
COLD = """
import time, sys
start = time.perf_counter()
import toolkit
from toolkit.pdf import export_pdf
export_pdf(toolkit.load_spec(sys.argv[1]), ["fr", "en"])
print(time.perf_counter() - start)
"""


def rss_mib() -> float:
    """Current resident memory of this process."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def variants(spec: Spec, count: int) -> Iterator[Spec]:
    """Spec variants as a batch of customers would have: other names, other retentions."""
    base = spec.model_dump(mode="json")
    for i in range(count):
        data = json.loads(json.dumps(base))
        data["controller"]["name"] = f"Diagnostics Exemple {i} SAS"
        data["purposes"][0]["retention"] = f"P{1 + i % 5}Y"
        yield validate_spec(data)


def best(fn: object, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description="PDF pack benchmark")
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    from weasyprint import CSS, HTML

    spec = toolkit.load_spec(SPEC)
    html = pack_html(spec, LOCALES)
    css_text = PACK_CSS.read_text(encoding="utf-8")
    export_pdf(spec, LOCALES)  # warm the toolkit's caches once, as a running service has them

    def raw() -> bytes:
        return HTML(string=html).write_pdf(stylesheets=[CSS(string=css_text)])

    def ours() -> bytes:
        return export_pdf(spec, LOCALES)

    raw_s, ours_s = best(raw), best(ours)
    print(
        f"same pack ({', '.join(LOCALES)}): raw WeasyPrint {raw_s:.2f} s, export_pdf "
        f"{ours_s:.2f} s, ratio {ours_s / raw_s:.2f}x (goal <= 1.1x)"
    )

    cold = [
        float(
            subprocess.run(
                [sys.executable, "-c", COLD, str(SPEC)], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    cold_s = min(cold)
    memory = []
    start = time.perf_counter()
    for i, variant in enumerate(variants(spec, args.batch), start=1):
        export_pdf(variant, LOCALES)
        if i % 10 == 0 or i == args.batch:
            memory.append(rss_mib())
    per_doc = (time.perf_counter() - start) / args.batch
    print(
        f"cold single export {cold_s:.2f} s; batch of {args.batch}: {per_doc:.2f} s a "
        f"document, {cold_s / per_doc:.1f}x better (goal >= 1.5x)"
    )
    print(
        "resident memory every 10 documents and at the end (MiB): "
        + ", ".join(f"{m:.0f}" for m in memory)
    )
    growth = memory[-1] - memory[0] if len(memory) > 1 else 0.0
    ok = ours_s / raw_s <= 1.1 and cold_s / per_doc >= 1.5 and growth < 0.1 * memory[0]
    print("goals:", "met" if ok else "MISSED", f"(memory growth {growth:.0f} MiB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
