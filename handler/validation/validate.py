"""Validate a pull request: may the head model replace the base model? (see docs/validation.md)

Orchestrates the pure checks over the two loaded models; loading (sandbox) and reading the
changed files (git or folder comparison) are the only side effects.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from handler.diff import ModelChange, diff_models
from handler.findings import Finding, error, has_errors
from handler.lint import lint, sort_findings
from handler.loading import LoadResult, SandboxLimits, load_model
from handler.model.ecosystem import Ecosystem
from handler.render.preview import Preview, preview
from handler.validation.acceptance import check_acceptance
from handler.validation.authorization import check_authorization
from handler.validation.compatibility import check_compatibility
from handler.validation.files import check_changed_files
from handler.validation.git_changes import changed_files_from_git
from handler.validation.source import ChangeSource

T = TypeVar("T")


@dataclass
class ValidationResult:
    source: ChangeSource
    findings: list[Finding] = field(default_factory=list)
    changes: list[ModelChange] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    initial_checkin: bool = False
    head: Ecosystem | None = None
    base: Ecosystem | None = None
    preview: Preview | None = None  # what the merge would deploy; only for a change that may merge
    unsandboxed: str | None = None  # what of the sandbox was missing when model code ran (allowed explicitly)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "fail" if has_errors(self.findings) else "pass"


class _Clock:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def run(self, phase: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started


def has_model(folder: Path) -> bool:
    return (folder / "eco.py").is_file()


def validate(
    base_dir: Path,
    head_dir: Path,
    source: ChangeSource,
    changed_files: Iterable[str] | None = None,
    limits: SandboxLimits | None = None,
    *,
    check_ownership: bool = True,
) -> ValidationResult:
    """Load both folders in sandboxes (in parallel) and check the change.

    ``check_ownership=False`` leaves out who changed what (files, authorization): for what lands
    after review (a merge queue's commit, a merge about to deploy), only whether it is safe counts.
    """
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    initial = not has_model(base_dir)

    def load_both() -> tuple[LoadResult | None, LoadResult]:
        with ThreadPoolExecutor(max_workers=2) as pool:  # two sandboxes at once: the work is in the children
            # The head runs twice, under different conditions: a model that is not deterministic fails,
            # since what is validated must be what will deploy.
            head_future = pool.submit(load_model, head_dir, limits, check_determinism=True)
            base = None if initial else load_model(base_dir, limits)
            return base, head_future.result()

    base_load, head_load = clock.run("load", load_both)
    if changed_files is None:
        changed_files = clock.run("files", lambda: _changed_files(base_dir, head_dir))
    return check_change(base_load, head_load, source, changed_files, timings, check_ownership=check_ownership)


def check_change(
    base_load: LoadResult | None,
    head_load: LoadResult,
    source: ChangeSource,
    changed_files: Iterable[str],
    timings: dict[str, float] | None = None,
    *,
    check_ownership: bool = True,
) -> ValidationResult:
    """The pure part: all checks over loaded models. ``base_load`` None means an initial check-in."""
    result = ValidationResult(
        source=source, initial_checkin=base_load is None, timings=timings if timings is not None else {}
    )
    clock = _Clock(result.timings)
    findings: list[Finding] = list(head_load.findings)
    if base_load is not None and base_load.ecosystem is None:
        reasons = "; ".join(f"{f.path}: {f.message}" for f in base_load.findings)
        findings.append(
            error("base-unloadable", "base", f"the base model does not load, so the change cannot be judged: {reasons}")
        )
    result.base = base_load.ecosystem if base_load else None
    result.head = head_load.ecosystem
    result.unsandboxed = (
        "; ".join(r.unsandboxed for r in (base_load, head_load) if r is not None and r.unsandboxed) or None
    )
    result.changed_files = sorted(set(changed_files))
    if base_load is not None and check_ownership:  # an initial check-in sets up the whole repository
        findings += check_changed_files(result.changed_files)

    head, base = result.head, result.base
    if head is not None and (base is not None or result.initial_checkin):
        findings += clock.run("lint", lambda: lint(head))
        result.changes = clock.run("diff", lambda: diff_models(base, head))
        if check_ownership:
            findings += clock.run(
                "authorization", lambda: list(check_authorization(source, base, head, result.changes))
            )
        findings += clock.run("compatibility", lambda: list(check_compatibility(head, result.changes)))
        findings += clock.run("acceptance", lambda: list(check_acceptance(head)))
    result.findings = sort_findings(findings)
    if head is not None and result.verdict == "pass":
        result.preview = clock.run("preview", lambda: preview(base, head))
    return result


def _changed_files(base_dir: Path, head_dir: Path) -> list[str]:
    from_git = changed_files_from_git(base_dir, head_dir)
    return from_git if from_git is not None else compare_folders(base_dir, head_dir)


def compare_folders(base_dir: Path, head_dir: Path) -> list[str]:
    """Files that differ between two folders (added, removed or changed), ``.git`` left out."""
    before, after = _digests(base_dir), _digests(head_dir)
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def _digests(root: Path) -> dict[str, str]:
    digests: dict[str, str] = {}
    if not root.is_dir():
        return digests
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", "__pycache__")]
        for name in files:
            path = Path(folder) / name
            digest = (
                "link:" + str(path.readlink()) if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
            )
            digests[path.relative_to(root).as_posix()] = digest
    return digests
