"""Commands that run things: the service, the demo, the local runner, status, the producer."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from handler.cli_common import EXIT_CLEAN, EXIT_FINDINGS, fail
from handler.reports.findings_report import OutputFormat


def register(app: typer.Typer) -> None:
    for name, command in (("serve", serve_command), ("demo", demo_command), ("status", status_command),
                          ("run-local", run_local_command), ("simulate", simulate_command)):
        app.command(name)(command)
    app.add_typer(producer_app, name="producer")


def serve_command(
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file; DATASURFACE_* environment variables override it."),
    host: str = typer.Option("0.0.0.0", "--host"),
    port: int = typer.Option(8080, "--port"),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Run the webhook service: validate pull requests, deploy merges (see docs/service.md)."""
    import uvicorn

    from handler.service import logs
    from handler.service.app import create_app
    from handler.service.config import ConfigError, load_config

    try:
        service_config = load_config(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    logs.configure(log_level.upper())
    uvicorn.run(create_app(service_config), host=host, port=port, log_level=log_level.lower(), access_log=False)


def demo_command(
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Work folder (default: the user's cache dir)/datasurface/demo)."),
    pg_url: Optional[str] = typer.Option(None, "--pg-url", help="Use this PostgreSQL server instead of the embedded one."),
    clean: bool = typer.Option(False, "--clean", help="Delete the work folder first (databases included)."),
    fast: bool = typer.Option(False, "--fast", help="Run the schedules 20x faster: live every 3 s, forensic every 30 s."),
    duration: float = typer.Option(60.0, "--duration", help="Seconds the simulator and the local runner run."),
) -> None:
    """The whole loop on this machine: databases, repos, pull requests, merge, deploy, runs, views."""
    import platformdirs

    from handler.demo import Demo

    folder = workdir or Path(platformdirs.user_cache_dir("datasurface")) / "demo"
    if clean and folder.exists():
        import shutil

        shutil.rmtree(folder)
    console = Console()
    started = time.monotonic()
    runs = Demo(folder, pg_url, fast, duration, console).run()
    failed = [r for r in runs if r.status != "Succeeded"]
    console.print(f"demo finished in {time.monotonic() - started:.0f} s; work folder {folder} (run again to reuse it, --clean to start over)", soft_wrap=True)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_CLEAN)


def status_command(
    merge_url: str = typer.Option(..., "--merge-url", help="Merge database URL."),
    spec_dir: Optional[Path] = typer.Option(None, "--spec-dir", help="Job spec JSON files or a rendered deployment tree (names and schedules)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
    check: bool = typer.Option(False, "--check", help="Exit 1 when any stream is stale or failing (for alerts)."),
    serve: Optional[int] = typer.Option(None, "--serve", help="Serve the same figures as Prometheus metrics on this port."),
    max_age: float = typer.Option(900.0, "--max-age", help="Freshness limit in seconds for streams without a spec."),
) -> None:
    """Per platform and stream: last batch, its age and counts, recent success rate, freshness."""
    from sqlalchemy import create_engine

    from workflows import status
    from pgtools.urls import psycopg2_url

    engine = create_engine(psycopg2_url(merge_url), pool_pre_ping=True)
    specs = status.specs_from(spec_dir) if spec_dir else []
    if spec_dir and not specs:
        raise fail(f"no job specs in {spec_dir} (give spec JSON files or a rendered deployment tree)")
    if serve is not None:
        import threading

        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()
        registry.register(status.StatusCollector(engine, specs))
        start_http_server(serve, registry=registry)
        Console().print(f"serving Prometheus metrics on :{serve}/metrics (Ctrl-C to stop)")
        threading.Event().wait()
    streams = status.collect(engine, specs, max_age)
    if format == OutputFormat.json:
        sys.stdout.write(status.to_json(streams))
    else:
        table = Table(title="DataSurface streams")
        for column in ("platform", "stream", "last batch", "state", "age", "ins/upd/del", "success", "fresh"):
            table.add_column(column)
        for s in streams:
            age = "-" if s.age_seconds is None else f"{s.age_seconds:.0f} s"
            rate = "-" if s.success_rate is None else f"{s.success_rate:.0%}"
            fresh = "[red]stale[/red]" if s.stale else "[green]ok[/green]"
            if s.failing:
                fresh += " [red]failing[/red]"
            table.add_row(s.platform, s.stream, str(s.last_batch or "-"), s.last_status or "-", age, f"{s.inserted}/{s.updated}/{s.deleted}", rate, fresh)
        Console().print(table)
    if check and any(s.stale or s.failing for s in streams):
        raise typer.Exit(EXIT_FINDINGS)


def run_local_command(
    deployment: Path = typer.Option(..., "--deployment", help="A rendered deployment tree (datasurface render --out)."),
    once: bool = typer.Option(False, "--once", help="Run the view-reconcile hooks and every stream once, then stop."),
    duration: Optional[str] = typer.Option(None, "--for", help="Run the schedules for this long, e.g. 90s, 10m, 2h."),
    secrets: Optional[Path] = typer.Option(None, "--secrets", help='JSON {"secret": {"key": "value"}}; else <SECRET>_<KEY> environment variables.'),
    env: Optional[list[str]] = typer.Option(None, "--env", help="KEY=VALUE for the steps, e.g. DATASURFACE_MERGE_URL=... (repeat)."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="Run the schedules this many times faster (the demo's --fast)."),
) -> None:
    """Execute the rendered Argo workflows locally: each stream on its cron schedule."""
    import tempfile

    from workflows.local_runner import Deployment, LocalRunner, Secrets, UnsupportedManifest

    if once == (duration is not None):
        raise fail("give exactly one of --once and --for DURATION")
    try:
        extra = dict(item.split("=", 1) for item in env or [])
    except ValueError:
        raise fail("--env takes KEY=VALUE") from None
    console = Console()
    try:
        runner = LocalRunner(Deployment(deployment), Secrets.load(secrets), extra, Path(tempfile.mkdtemp(prefix="datasurface-run-")),
                             time_scale, echo=lambda m: console.print(m, markup=False))

        def show(run) -> None:  # type: ignore[no-untyped-def]
            merged = next((s.outputs.get("outcome", "") for s in run.steps if s.template == "snapshot-merge"), "")
            console.print(f"{run.status:<9} {run.name} {merged}", markup=False, soft_wrap=True)
            for failure in run.failures:
                console.print(f"          {failure['displayName']}: {failure['message']}", markup=False, soft_wrap=True)

        for run in runner.run_hooks():
            show(run)
        if once:
            for cron in runner.deployment.crons:
                run = runner.run_cron(cron)
                if run is not None:
                    show(run)
        else:
            runner.run_schedules(_parse_duration(duration or "0s"), on_run=show)
    except UnsupportedManifest as exc:
        raise fail(str(exc)) from None
    failed = [r for r in runner.history if r.status != "Succeeded"]
    console.print(f"{len(runner.history)} workflow runs, {len(failed)} failed", soft_wrap=True)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_CLEAN)


def _parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError, KeyError):
        raise fail(f"not a duration: {text!r} (use 90s, 10m or 2h)") from None


producer_app = typer.Typer(help="The MVP producer database (customers and addresses).", no_args_is_help=True)


@producer_app.command("init")
def producer_init_command(
    db: str = typer.Option(..., "--db", help="Producer database URL (libpq form); created when missing."),
    drop: bool = typer.Option(False, "--drop", help="Drop the tables first and start from the seed data."),
) -> None:
    """Create the customers and addresses tables and seed 5 customers with 8 addresses (idempotent)."""
    from sqlalchemy.exc import SQLAlchemyError

    from simulator.producer import init_producer

    try:
        counts = init_producer(db, drop)
    except (SQLAlchemyError, ValueError) as exc:
        raise fail(f"cannot initialise the producer database: {exc}") from None
    Console().print(f"producer database ready: {counts['customers']} customers, {counts['addresses']} addresses", soft_wrap=True)


def simulate_command(
    db: str = typer.Option(..., "--db", help="Producer database URL (libpq form)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Make the run reproducible: same operations, same values."),
    max_changes: Optional[int] = typer.Option(None, "--max-changes", help="Stop after this many changes."),
    min_interval: float = typer.Option(1.0, "--min-interval", help="Shortest pause between changes, seconds."),
    max_interval: float = typer.Option(5.0, "--max-interval", help="Longest pause between changes, seconds."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Changes per second (instead of random pauses)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the values of each change."),
    json_lines: bool = typer.Option(False, "--json", help="One JSON object per line."),
    max_failures: int = typer.Option(10, "--max-failures", help="Give up after this many failed attempts in a row."),
) -> None:
    """Change the producer database like a business: new customers, new and changed addresses, ...

    Stops after --max-changes, or cleanly on Ctrl-C / SIGTERM, and prints a summary.
    Exit 1 when the database stayed unavailable for --max-failures attempts.
    """
    from simulator.simulate import ChangeSimulator, SimulatorConfig

    if min_interval < 0 or max_interval < min_interval or (rate is not None and rate <= 0):
        raise fail("intervals must satisfy 0 <= --min-interval <= --max-interval, and --rate must be positive")
    try:
        simulator = ChangeSimulator(SimulatorConfig(db, seed, max_changes, min_interval, max_interval, rate, json_lines, verbose, max_failures))
    except ValueError as exc:
        raise fail(str(exc)) from None
    summary = simulator.run()
    raise typer.Exit(1 if summary.gave_up else 0)
