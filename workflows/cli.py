"""The data plane's commands: the steps rendered workflows run (``datasurface job ...``), the
local runner and the operating status. Mounted into ``datasurface`` by ``handler.cli``.

Thin wrappers over ``workflows``; each imports what it runs when it runs, so a step in a
workflow pod starts fast.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from workflows.outcome import EXIT_DONE, EXIT_PERMANENT
from workflows.spec import JobSpec, SpecError

if TYPE_CHECKING:
    from rich.console import Console

    from workflows.consumer_status import ConsumerStatus
    from workflows.pg import Database
    from workflows.status import StreamStatus

app = typer.Typer()
job_app = typer.Typer()


def _console(stderr: bool = False) -> Console:
    """Rich's console, imported when something is printed: a job step that succeeds never needs it."""
    from rich.console import Console

    return Console(stderr=stderr)


class StatusFormat(str, Enum):
    text = "text"
    json = "json"


def read_spec(path: Path) -> JobSpec:
    """The job spec at ``path``; an unreadable or invalid spec ends the step as a permanent error."""
    try:
        return JobSpec.from_json(path.read_bytes())
    except (OSError, SpecError) as exc:
        _console(stderr=True).print(f"error: cannot use job spec {path}: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_PERMANENT) from None


@job_app.command("snapshot-merge")
def snapshot_merge_command(
    spec_path: Path = typer.Option(..., "--spec", help="Job spec JSON of the stream."),
    source_url: str | None = typer.Option(
        None,
        "--source-url",
        help="Producer database URL (default: from the spec and credentials; env DATASURFACE_SOURCE_URL).",
    ),
    merge_url: str | None = typer.Option(
        None,
        "--merge-url",
        help="Merge database URL (default: from the spec and credentials; env DATASURFACE_MERGE_URL).",
    ),
    max_seconds: float | None = typer.Option(
        None, "--max-seconds", help="Stop between datasets after this long and report keep_working."
    ),
    outcome_dir: Path | None = typer.Option(
        None, "--outcome-dir", help="Also write outcome files for Argo; keep_working then exits 0."
    ),
    parallel: int | None = typer.Option(
        None,
        "--parallel",
        min=1,
        max=32,
        help="Connections to copy over (default: the spec's merge_settings.parallel).",
    ),
) -> None:
    """Ingest the stream's tables from one snapshot and merge them. Prints a final JSON outcome line.

    Exit codes: 0 done, 10 keep_working (run again now), 75 transient error (retry later),
    1 permanent error, 11 another run of the stream holds the lock.
    """
    from workflows.snapshot_merge import run_snapshot_merge

    outcome = run_snapshot_merge(read_spec(spec_path), source_url, merge_url, max_seconds, parallel)
    if outcome.error:
        _console(stderr=True).print(f"error: {outcome.error}", soft_wrap=True, markup=False)
    print(outcome.line(), flush=True)
    if outcome_dir is not None:
        outcome.write_files(outcome_dir)
        if outcome.outcome == "keep_working":
            raise typer.Exit(EXIT_DONE)
    raise typer.Exit(outcome.exit_code)


@job_app.command("reset-batch")
def reset_batch_command(
    spec_path: Path = typer.Option(..., "--spec", help="Job spec JSON of the stream."),
    dataset: str | None = typer.Option(
        None, "--dataset", help="The dataset whose staging to discard (it must belong to the stream)."
    ),
    merge_url: str | None = typer.Option(
        None, "--merge-url", help="Merge database URL (default: from the spec; env DATASURFACE_MERGE_URL)."
    ),
) -> None:
    """Reset the stream's uncommitted batch so the next run re-ingests it; refuses a committed batch."""
    from workflows.batch import BatchStateError
    from workflows.db import ConfigurationError
    from workflows.snapshot_merge import reset_batch

    try:
        message = reset_batch(read_spec(spec_path), merge_url, dataset)
    except (BatchStateError, ConfigurationError) as exc:
        _console(stderr=True).print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_PERMANENT) from None
    _console().print(message, soft_wrap=True, markup=False)


@job_app.command("reconcile-views")
def reconcile_views_command(
    spec_path: Path = typer.Option(..., "--spec", help="Job spec JSON of the stream."),
    merge_url: str | None = typer.Option(
        None, "--merge-url", help="Merge database URL (default: from the spec; env DATASURFACE_MERGE_URL)."
    ),
) -> None:
    """Create or update the consumer views of the stream's datasets; exit 1 when any failed."""
    from workflows.db import ConfigurationError, is_transient
    from workflows.outcome import EXIT_TRANSIENT
    from workflows.views import reconcile_views

    try:
        results = reconcile_views(read_spec(spec_path), merge_url)
    except ConfigurationError as exc:
        _console(stderr=True).print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_PERMANENT) from None
    except Exception as exc:  # noqa: BLE001 - the database itself failed: tell Argo whether to retry
        _console(stderr=True).print(f"error: {type(exc).__name__}: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_TRANSIENT if is_transient(exc) else EXIT_PERMANENT) from None
    console = _console()
    for result in results:
        mark = "ok    " if result.ok else "FAILED"
        console.print(
            f"{mark} {result.name}" + (f": {result.message}" if result.message else ""), soft_wrap=True, markup=False
        )
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
    from workflows import notify

    outcome = notify.send(notify.failure_message(platform, stream, batch, status, failures, link))
    _console(stderr=True).print(outcome, soft_wrap=True)


@app.command("status")
def status_command(
    merge_url: str | None = typer.Option(
        None,
        "--merge-url",
        help="Merge database URL; else the specs' merge database with DATASURFACE_MERGE_USER / _PASSWORD.",
    ),
    spec_dir: Path | None = typer.Option(
        None, "--spec-dir", help="Job spec JSON files or a rendered deployment tree (names and freshness targets)."
    ),
    format: StatusFormat = typer.Option(StatusFormat.text, "--format", "-f", help="text or json."),
    check: bool = typer.Option(False, "--check", help="Exit 1 when any stream is stale or failing (for alerts)."),
    serve: int | None = typer.Option(
        None, "--serve", help="Serve the figures as Prometheus metrics on this port (the status exporter)."
    ),
    bind: str = typer.Option("0.0.0.0", "--bind", help="Address --serve listens on."),  # noqa: S104
    max_age: float = typer.Option(900.0, "--max-age", help="Freshness limit in seconds for streams without a spec."),
) -> None:
    """Per platform and stream: last batch, its age and counts, recent runs, freshness."""
    from workflows import status

    specs = status.specs_from(spec_dir) if spec_dir else []
    if spec_dir and not specs:
        raise typer.BadParameter(
            f"no job specs in {spec_dir} (give spec JSON files or a rendered deployment tree)", param_hint="--spec-dir"
        )
    merge_db = _status_database(merge_url, specs)
    if serve is not None:
        import threading

        from workflows.exporter import serve as serve_metrics

        serve_metrics(merge_db, specs, serve, bind)
        _console().print(f"serving Prometheus metrics on {bind}:{serve}/metrics (Ctrl-C to stop)", soft_wrap=True)
        threading.Event().wait()
    from workflows.consumer_status import collect_consumers, consumer_databases

    streams = status.collect(merge_db, specs, max_age)
    consumers = collect_consumers(merge_db, specs, consumer_databases("datasurface-status"))
    if format == StatusFormat.json:
        sys.stdout.write(status.to_json(streams, consumers))
    else:
        _print_status(streams)
        if consumers:
            _print_consumers(consumers)
    if check and any(s.stale or s.failing for s in streams):
        raise typer.Exit(EXIT_PERMANENT)


def _status_database(merge_url: str | None, specs: list[JobSpec]) -> Database:
    """The merge database to report on: the URL given, else the one database the specs name."""
    from workflows.db import MERGE_URL_ENV, ConfigurationError, database_at, job_database

    merge_url = merge_url or os.environ.get(MERGE_URL_ENV)
    databases = {(s.merge.host, s.merge.port, s.merge.database) for s in specs}
    try:
        if merge_url:
            return database_at(merge_url, "datasurface-status")
        if len(databases) == 1:
            return job_database(specs[0].merge, "merge", None, "datasurface-status")
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--merge-url") from None
    reason = "no job specs" if not databases else f"the specs name {len(databases)} merge databases"
    raise typer.BadParameter(f"give the merge database URL ({reason})", param_hint="--merge-url")


def _print_status(streams: list[StreamStatus]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="DataSurface streams")
    for column in ("platform", "stream", "last batch", "state", "age / target", "ins/upd/del", "success", "fresh"):
        table.add_column(column)
    for s in streams:
        age = "-" if s.age_seconds is None else f"{s.age_seconds:.0f} s"
        rate = "-" if s.success_rate is None else f"{s.success_rate:.0%}"
        fresh = "[red]stale[/red]" if s.stale else "[green]ok[/green]"
        if s.failing:
            fresh += f" [red]failing ({s.consecutive_failures})[/red]"
        if s.running:
            fresh += " running"
        table.add_row(
            Text(s.platform),  # names come from the model: never read as markup
            Text(s.stream),
            str(s.last_batch or "-"),
            s.last_status or "-",
            f"{age} / {s.max_age_seconds:.0f} s",
            f"{s.inserted}/{s.updated}/{s.deleted}",
            rate,
            fresh,
        )
    _console().print(table)


def _print_consumers(consumers: list[ConsumerStatus]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Consumer databases")
    for column in ("platform", "stream", "workspace", "database", "last batch", "age", "lag", "replication"):
        table.add_column(column)
    for c in consumers:
        if not c.reachable:
            state = Text(f"unreachable: {c.error}", style="red")
        else:
            state = Text(
                "streaming" if c.replication_active else "not streaming", style="" if c.replication_active else "red"
            )
            if c.lag_bytes is not None:
                state.append(f" ({c.lag_bytes} bytes behind)")
        table.add_row(
            Text(c.platform),
            Text(c.stream),
            Text(c.workspace),
            Text(c.database),
            str(c.last_batch or "-"),
            "-" if c.age_seconds is None else f"{c.age_seconds:.0f} s",
            "-" if c.lag_seconds is None else f"{c.lag_seconds:.0f} s",
            state,
        )
    _console().print(table)


@app.command("run-local")
def run_local_command(
    deployment: Path = typer.Option(..., "--deployment", help="A rendered deployment tree (datasurface render --out)."),
    once: bool = typer.Option(False, "--once", help="Run the view-reconcile hooks and every stream once, then stop."),
    duration: str | None = typer.Option(None, "--for", help="Run the schedules for this long, e.g. 90s, 10m, 2h."),
    secrets: Path | None = typer.Option(
        None, "--secrets", help='JSON {"secret": {"key": "value"}}; else <SECRET>_<KEY> environment variables.'
    ),
    env: list[str] | None = typer.Option(
        None, "--env", help="KEY=VALUE for the steps, e.g. DATASURFACE_MERGE_URL=... (repeat)."
    ),
    time_scale: float = typer.Option(
        1.0, "--time-scale", help="Run the schedules this many times faster (the demo's --fast)."
    ),
) -> None:
    """Execute the rendered Argo workflows locally: each stream on its cron schedule."""
    import tempfile

    from workflows.local_runner import Deployment, LocalRunner, Secrets, UnsupportedManifestError

    if once == (duration is not None):
        raise typer.BadParameter("give exactly one of --once and --for DURATION", param_hint="--once / --for")
    try:
        extra = dict(item.split("=", 1) for item in env or [])
    except ValueError:
        raise typer.BadParameter("takes KEY=VALUE", param_hint="--env") from None
    console = _console()
    try:
        runner = LocalRunner(
            Deployment(deployment),
            Secrets.load(secrets),
            extra,
            Path(tempfile.mkdtemp(prefix="datasurface-run-")),
            time_scale,
            echo=lambda m: console.print(m, markup=False),
        )

        def show(run) -> None:  # type: ignore[no-untyped-def]
            merged = next((s.outputs.get("outcome", "") for s in run.steps if s.template == "snapshot-merge"), "")
            console.print(f"{run.status:<9} {run.name} {merged}", markup=False, soft_wrap=True)
            for failure in run.failures:
                console.print(f"          {failure['displayName']}: {failure['message']}", markup=False, soft_wrap=True)

        for run in runner.run_hooks():
            show(run)
        if once:
            for cron in runner.deployment.crons:
                ran = runner.run_cron(cron)
                if ran is not None:
                    show(ran)
        else:
            runner.run_schedules(_parse_duration(duration or "0s"), on_run=show)
    except UnsupportedManifestError as exc:
        raise typer.BadParameter(str(exc), param_hint="--deployment") from None
    failed = [r for r in runner.history if r.status != "Succeeded"]
    console.print(f"{len(runner.history)} workflow runs, {len(failed)} failed", soft_wrap=True)
    raise typer.Exit(EXIT_PERMANENT if failed else EXIT_DONE)


def _parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError, KeyError):
        raise typer.BadParameter(f"not a duration: {text!r} (use 90s, 10m or 2h)", param_hint="--for") from None
