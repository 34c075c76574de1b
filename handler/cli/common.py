"""Helpers shared by the ``datasurface`` commands: exit codes, errors, loading a model."""

from __future__ import annotations

import dataclasses
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


#: ``--allow-unsandboxed``, on every command that runs model code.
ALLOW_UNSANDBOXED = typer.Option(
    False,
    "--allow-unsandboxed",
    help="Run model code even where Landlock or seccomp cannot be applied (every report says so). "
    "Without it such a machine refuses to run models. Also: DATASURFACE_SANDBOX_ALLOW_UNSANDBOXED=1.",
)


#: ``--monitoring-label``, on the commands that render.
MONITORING_LABELS = typer.Option(
    None,
    "--monitoring-label",
    help="KEY=VALUE label of the rendered ServiceMonitors and PrometheusRules, as your Prometheus selects "
    "them (kube-prometheus-stack: release=<its release>); repeat for more.",
)
ARGO_UI_URL = typer.Option(None, "--argo-ui-url", help="The Argo Workflows UI (links in messages and dashboards).")


def key_values(items: list[str] | None, option: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` -> ``{"a": "1", "b": "2"}``; anything else is a usage error naming the option."""
    pairs = [item.split("=", 1) for item in items or []]
    if any(len(pair) != 2 or not pair[0] for pair in pairs):
        raise typer.BadParameter("takes KEY=VALUE", param_hint=option)
    return {pair[0]: pair[1] for pair in pairs}


def load_or_exit(model_dir: Path, timeout: float | None = None, allow_unsandboxed: bool = False) -> Ecosystem:
    """Load a model for a command that needs one; a model that does not load ends the command (exit 1)."""
    if not (model_dir / "eco.py").is_file():
        raise fail(f"{model_dir} has no eco.py")
    result = load_model(model_dir, limits(timeout, allow_unsandboxed))
    warn_unsandboxed(result.unsandboxed)
    if result.ecosystem is None:
        print_text(Console(stderr=True), f"load {model_dir}", result.findings)
        raise typer.Exit(EXIT_FINDINGS)
    return result.ecosystem


def warn_unsandboxed(missing: str | None) -> None:
    if missing:
        Console(stderr=True).print(
            f"[bold red]WARNING: the model ran WITHOUT the full sandbox[/] ({missing})", soft_wrap=True
        )


def limits(timeout: float | None, allow_unsandboxed: bool = False) -> SandboxLimits:
    try:
        settings = SandboxLimits.from_env()
    except ValueError as exc:
        raise fail(str(exc)) from None
    if timeout is not None:
        settings = dataclasses.replace(settings, wall_seconds=timeout)
    if allow_unsandboxed:
        settings = dataclasses.replace(settings, allow_unsandboxed=True)
    return settings
