"""Helpers shared by the ``datasurface`` commands: exit codes, errors, loading a model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from handler.loading import SandboxLimits, load_model
from handler.model.ecosystem import Ecosystem
from handler.reports.findings_report import print_text

EXIT_CLEAN, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2


def fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(EXIT_CANNOT_RUN)


def load_or_exit(model_dir: Path, timeout: float | None = None) -> Ecosystem:
    """Load a model for a command that needs one; a model that does not load ends the command (exit 1)."""
    if not (model_dir / "eco.py").is_file():
        raise fail(f"{model_dir} has no eco.py")
    result = load_model(model_dir, limits(timeout))
    if result.ecosystem is None:
        print_text(Console(stderr=True), f"load {model_dir}", result.findings)
        raise typer.Exit(EXIT_FINDINGS)
    return result.ecosystem


def limits(timeout: float | None) -> SandboxLimits:
    try:
        limits = SandboxLimits.from_env()
    except ValueError as exc:
        raise fail(str(exc)) from None
    if timeout is not None:
        limits = SandboxLimits(**{**limits.__dict__, "wall_seconds": timeout})
    return limits
