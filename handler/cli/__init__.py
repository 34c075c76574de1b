"""The ``datasurface`` command line: the composition root.

Each group of commands is a Typer app beside the code it drives (``handler/cli/*_commands.py``,
``workflows/cli.py``, ``simulator/cli.py``), registered with ``@app.command``; ``build_app``
mounts them. Commands import what they run when they run.

``main`` is the executable. A data-plane step (``datasurface job snapshot-merge`` and the other
steps of ``workflows/steps.py``, which a workflow pod runs once per batch) runs without Typer
or the control plane's command modules (the model loader, the renderers): those imports were
most of a step's start-up.
"""

from __future__ import annotations

import atexit
import os
import sys
from functools import cache
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import typer


@cache
def build_app() -> typer.Typer:
    import typer

    from handler.cli import deploy_commands, model_commands, operate_commands, rollout_commands
    from simulator import cli as simulator_cli
    from workflows import cli as workflows_cli

    app = typer.Typer(
        name="datasurface",
        help="GitOps control plane for data ecosystems: lint, validate and render the ecosystem model.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for group in (
        model_commands.app,
        deploy_commands.app,
        rollout_commands.app,
        operate_commands.app,
        workflows_cli.app,
        simulator_cli.app,
    ):
        app.add_typer(group)

    job_app = typer.Typer(help="Data-plane steps (what Argo runs) and job specs.", no_args_is_help=True)
    job_app.add_typer(deploy_commands.job_app)
    job_app.add_typer(workflows_cli.job_app)
    app.add_typer(job_app, name="job")
    return app


def main() -> None:
    """Run ``datasurface`` with the process's arguments."""
    args = sys.argv[1:]
    if args[:1] == ["job"] and len(args) > 1:
        from workflows import steps

        if args[1] in steps.STEPS:  # it returns its exit code; a usage error is argparse's 2
            _end_step(steps.run(args[1:]))
    build_app()()


def _end_step(code: int) -> NoReturn:
    """End a data-plane step without tearing the interpreter down.

    A step runs once per batch in its own process, and Python's finalization of what it
    imported took 0.10-0.13 s of every run (docs/snapshot-merge.md; measured when the steps
    still imported SQLAlchemy beside pydantic).
    Everything a step leaves is already out: its outcome printed and written, its connections
    closed, its threads joined. The exit handlers still run; output is flushed first."""
    atexit._run_exitfuncs()
    if "logging" in sys.modules:  # a step imports it only when something logs
        sys.modules["logging"].shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the whole command line, for whoever imports it
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "build_app", "main"]
