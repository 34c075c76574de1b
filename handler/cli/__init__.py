"""The ``datasurface`` command line: the composition root.

Each group of commands is a Typer app beside the code it drives (``handler/cli/*_commands.py``,
``workflows/cli.py``, ``simulator/cli.py``), registered with ``@app.command``; this module
mounts them. Commands import what they run when they run, so ``datasurface job ...`` in a
workflow pod starts fast.
"""

from __future__ import annotations

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

__all__ = ["app"]
