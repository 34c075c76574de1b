"""Validation benchmark: a 10k-dataset base against a head with 100 changed datasets.

Prints the time of each phase (both models load in parallel sandboxes), the checks alone and
the total with the merge preview (rendering both models), with the validation of the MVP
template against itself, measured in the same run, as baseline.

    python bench/validate_scale.py [--datasets 10000] [--changed 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from generated_model import write_model

from handler.loading import SandboxLimits
from handler.validation import ChangeSource, validate

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("load", "lint", "diff", "authorization", "compatibility", "acceptance", "preview")


def run(
    base: Path, head: Path, source: ChangeSource, limits: SandboxLimits, repeat: int
) -> tuple[dict[str, float], float, str, int]:
    totals: list[float] = []
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    verdict, changes = "", 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = validate(base, head, source, changed_files=["eco.py"], limits=limits)
        totals.append(time.perf_counter() - started)
        for phase in PHASES:
            phases[phase].append(result.timings.get(phase, 0.0))
        verdict, changes = result.verdict, len(result.changes)
    return {p: statistics.median(v) for p, v in phases.items()}, statistics.median(totals), verdict, changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    limits = SandboxLimits(wall_seconds=300, cpu_seconds=300, memory_mb=8192)
    template = ROOT / "handler" / "model_repo_template"
    _, baseline, _, _ = run(template, template, ChangeSource("acme/datasurface-model", "team1"), limits, args.repeat)
    print(f"baseline: MVP template against itself {baseline:.3f} s")
    with tempfile.TemporaryDirectory(prefix="datasurface-bench-") as tmp:
        base, head = Path(tmp) / "base", Path(tmp) / "head"
        write_model(base, args.datasets)
        write_model(head, args.datasets, changed=args.changed)
        phases, total, verdict, changes = run(base, head, ChangeSource("acme/big-model", "team0"), limits, args.repeat)
    print(f"{args.datasets} datasets, {args.changed} changed: verdict {verdict}, {changes} model changes")
    for phase, seconds in phases.items():
        print(f"  {phase:<14} {seconds:8.3f} s")
    checks = sum(seconds for phase, seconds in phases.items() if phase != "preview")
    print(f"  {'checks':<14} {checks:8.3f} s   (load to acceptance; target < 3 s)")
    print(
        f"  {'total':<14} {total:8.3f} s   ({total / baseline:.1f}x baseline; includes rendering both models for the merge preview)"
    )


if __name__ == "__main__":
    main()
