"""Model scale benchmark: sandboxed load and lint time for models of 1k, 10k and 50k datasets.

Models come from ``generated_model.py`` (20 columns per dataset). The baseline, measured in
the same run, is the sandbox round trip of the MVP template (process start, imports, Landlock).

    python bench/model_scale.py [--sizes 1000,10000,50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from generated_model import write_model

from handler.lint import lint
from handler.loading import SandboxLimits, load_model

ROOT = Path(__file__).resolve().parent.parent


def measure(folder: Path, limits: SandboxLimits, repeat: int) -> tuple[float, float, int]:
    loads, lints = [], []
    findings = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = load_model(folder, limits)
        loads.append(time.perf_counter() - started)
        if result.ecosystem is None:
            raise SystemExit(f"{folder} did not load: {result.findings}")
        started = time.perf_counter()
        findings = len(lint(result.ecosystem))
        lints.append(time.perf_counter() - started)
    return statistics.median(loads), statistics.median(lints), findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    limits = SandboxLimits(wall_seconds=300, cpu_seconds=300, memory_mb=8192)
    base_load, base_lint, _ = measure(ROOT / "handler" / "model_repo_template", limits, args.repeat)
    print(f"baseline: MVP template (2 datasets) load {base_load:.3f} s, lint {base_lint * 1000:.1f} ms")
    print(
        f"{'datasets':>9} {'columns':>9} {'load s':>8} {'lint s':>8} {'total s':>8} {'x baseline':>10} {'findings':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="datasurface-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            folder = Path(tmp) / f"model-{n}"
            write_model(folder, n)
            load_s, lint_s, findings = measure(folder, limits, args.repeat)
            total = load_s + lint_s
            print(
                f"{n:>9} {n * 20:>9} {load_s:>8.3f} {lint_s:>8.3f} {total:>8.3f} {total / base_load:>10.1f} {findings:>8}"
            )


if __name__ == "__main__":
    main()
