"""``datasurface job ...``: the steps rendered workflows run, and the job spec of a stream.

The data-plane commands are thin wrappers over ``workflows``; only ``job spec`` reads a model
(it is the control plane's view of what a job gets).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from workflows import notify

job_app = typer.Typer(help="Data-plane steps (what Argo runs) and job specs.", no_args_is_help=True)


@job_app.command("spec")
def spec_command(
    model: Path = typer.Option(..., "--model", help="Model folder (eco.py)."),
    platform: str = typer.Option(..., "--platform", help="Data platform name."),
    stream: str = typer.Option(..., "--stream", help="Stream key (the datastore, or STORE_DATASET for single-dataset ingestion)."),
) -> None:
    """Print the job spec of one stream as JSON."""
    from handler.cli import fail, load_or_exit
    from handler.render.streams import platform_streams

    eco = load_or_exit(model)
    found = eco.getDataPlatform(platform)
    if found is None:
        raise fail(f"no data platform {platform!r}; platforms: {', '.join(sorted(p.name for p in eco.data_platforms))}")
    specs = {s.stream: s for s in platform_streams(eco, found)}
    if stream not in specs:
        raise fail(f"platform {platform!r} runs no stream {stream!r}; streams: {', '.join(sorted(specs)) or 'none'}")
    sys.stdout.write(specs[stream].spec_json)


@job_app.command("notify")
def notify_command(
    platform: str = typer.Option(..., "--platform"),
    stream: str = typer.Option(..., "--stream"),
    batch: str = typer.Option("", "--batch"),
    status: str = typer.Option("Failed", "--status"),
    failures: str = typer.Option("", "--failures", help="Argo's {{workflow.failures}} JSON."),
    link: str = typer.Option("", "--link", help="Link to the run in the Argo UI."),
) -> None:
    """Post a failure message to $DATASURFACE_NOTIFY_URL (Slack-compatible); never fails."""
    outcome = notify.send(notify.failure_message(platform, stream, batch, status, failures, link))
    Console(stderr=True).print(outcome, soft_wrap=True)
