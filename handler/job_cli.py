"""``datasurface job ...``: the steps rendered workflows run, and the job spec of a stream.

The data-plane commands are thin wrappers over ``workflows``; only ``job spec`` reads a model
(it is the control plane's view of what a job gets).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError
from rich.console import Console

from workflows import notify
from workflows.outcome import EXIT_DONE, EXIT_PERMANENT
from workflows.spec import JobSpec

job_app = typer.Typer(help="Data-plane steps (what Argo runs) and job specs.", no_args_is_help=True)


@job_app.command("spec")
def spec_command(
    model: Path = typer.Option(..., "--model", help="Model folder (eco.py)."),
    platform: str = typer.Option(..., "--platform", help="Data platform name."),
    stream: str = typer.Option(..., "--stream", help="Stream key (the datastore, or STORE_DATASET for single-dataset ingestion)."),
) -> None:
    """Print the job spec of one stream as JSON."""
    from handler.cli_common import fail, load_or_exit
    from handler.render.streams import platform_streams

    eco = load_or_exit(model)
    found = eco.getDataPlatform(platform)
    if found is None:
        raise fail(f"no data platform {platform!r}; platforms: {', '.join(sorted(p.name for p in eco.data_platforms))}")
    specs = {s.stream: s for s in platform_streams(eco, found)}
    if stream not in specs:
        raise fail(f"platform {platform!r} runs no stream {stream!r}; streams: {', '.join(sorted(specs)) or 'none'}")
    sys.stdout.write(specs[stream].spec_json)


def read_spec(path: Path) -> JobSpec:
    """The job spec at ``path``; an unreadable or invalid spec ends the step as a permanent error."""
    try:
        return JobSpec.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        Console(stderr=True).print(f"error: cannot use job spec {path}: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_PERMANENT) from None


@job_app.command("snapshot-merge")
def snapshot_merge_command(
    spec_path: Path = typer.Option(..., "--spec", help="Job spec JSON of the stream."),
    source_url: Optional[str] = typer.Option(None, "--source-url", help="Producer database URL (default: from the spec and credentials; env DATASURFACE_SOURCE_URL)."),
    merge_url: Optional[str] = typer.Option(None, "--merge-url", help="Merge database URL (default: from the spec and credentials; env DATASURFACE_MERGE_URL)."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Stop between datasets after this long and report keep_working."),
    outcome_dir: Optional[Path] = typer.Option(None, "--outcome-dir", help="Also write outcome files for Argo; keep_working then exits 0."),
) -> None:
    """Ingest the stream's tables from one snapshot and merge them. Prints a final JSON outcome line.

    Exit codes: 0 done, 10 keep_working (run again now), 75 transient error (retry later),
    1 permanent error, 11 another run of the stream holds the lock.
    """
    from workflows.snapshot_merge import run_snapshot_merge

    outcome = run_snapshot_merge(read_spec(spec_path), source_url, merge_url, max_seconds)
    if outcome.error:
        Console(stderr=True).print(f"error: {outcome.error}", soft_wrap=True, markup=False)
    print(outcome.line(), flush=True)
    if outcome_dir is not None:
        outcome.write_files(outcome_dir)
        if outcome.outcome == "keep_working":
            raise typer.Exit(EXIT_DONE)
    raise typer.Exit(outcome.exit_code)


@job_app.command("reset-batch")
def reset_batch_command(
    spec_path: Path = typer.Option(..., "--spec", help="Job spec JSON of the stream."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="The dataset whose staging to discard (it must belong to the stream)."),
    merge_url: Optional[str] = typer.Option(None, "--merge-url", help="Merge database URL (default: from the spec; env DATASURFACE_MERGE_URL)."),
) -> None:
    """Reset the stream's uncommitted batch so the next run re-ingests it; refuses a committed batch."""
    from workflows.batch import BatchStateError
    from workflows.db import ConfigurationError
    from workflows.snapshot_merge import reset_batch

    try:
        message = reset_batch(read_spec(spec_path), merge_url, dataset)
    except (BatchStateError, ConfigurationError) as exc:
        Console(stderr=True).print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_PERMANENT) from None
    Console().print(message, soft_wrap=True, markup=False)


@job_app.command("reconcile-views")
def reconcile_views_command(
    spec_path: Path = typer.Option(..., "--spec", help="Job spec JSON of the stream."),
    merge_url: Optional[str] = typer.Option(None, "--merge-url", help="Merge database URL (default: from the spec; env DATASURFACE_MERGE_URL)."),
) -> None:
    """Create or update the consumer views of the stream's datasets; exit 1 when any failed."""
    from workflows.db import ConfigurationError, is_transient
    from workflows.outcome import EXIT_TRANSIENT
    from workflows.views import reconcile_views

    try:
        results = reconcile_views(read_spec(spec_path), merge_url)
    except ConfigurationError as exc:
        Console(stderr=True).print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_PERMANENT) from None
    except Exception as exc:  # noqa: BLE001 - the database itself failed: tell Argo whether to retry
        Console(stderr=True).print(f"error: {type(exc).__name__}: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_TRANSIENT if is_transient(exc) else EXIT_PERMANENT) from None
    console = Console()
    for result in results:
        mark = "ok    " if result.ok else "FAILED"
        console.print(f"{mark} {result.name}" + (f": {result.message}" if result.message else ""), soft_wrap=True, markup=False)
    failed = sum(1 for r in results if not r.ok)
    console.print(f"{len(results) - failed} reconciled, {failed} failed", soft_wrap=True)
    raise typer.Exit(EXIT_PERMANENT if failed else EXIT_DONE)


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
