"""The data plane's operator commands: the local runner and the operating status, and the
steps rendered workflows run (``datasurface job ...``, ``workflows/steps.py``) listed in the
``job`` group. Mounted into ``datasurface`` by ``handler.cli``.

Thin wrappers over ``workflows``; each imports what it runs when it runs.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from workflows.outcome import EXIT_DONE, EXIT_PERMANENT
from workflows.spec import JobSpec
from workflows.steps import STEPS
from workflows.steps import run as run_step

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


def _list_step(name: str, help: str) -> None:
    """The step ``name`` in the ``job`` group, its options parsed by the step itself (a pod's
    ``datasurface job <step>`` runs it without Typer: ``handler.cli.main``)."""

    def step(ctx: typer.Context) -> None:
        raise typer.Exit(run_step([name, *ctx.args]))

    settings = {"allow_extra_args": True, "ignore_unknown_options": True}
    job_app.command(name, help=help, add_help_option=False, context_settings=settings)(step)


for _name, _step in STEPS.items():
    _list_step(_name, _step.help)


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
