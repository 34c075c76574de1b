"""The ``datasurface`` command line. Thin commands over the functional core."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from handler import __version__
from handler.findings import has_errors
from handler.lint import lint, sort_findings
from handler.loading import SandboxLimits, load_model
from handler.job_cli import job_app
from handler.model.ecosystem import Ecosystem
from handler.reports.findings_report import OutputFormat, print_text, to_json, to_markdown

app = typer.Typer(
    name="datasurface",
    help="GitOps control plane for data ecosystems: lint, validate and render the ecosystem model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(job_app, name="job")

EXIT_CLEAN, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2


def fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(EXIT_CANNOT_RUN)


def load_or_exit(model_dir: Path, timeout: Optional[float] = None) -> Ecosystem:
    """Load a model for a command that needs one; a model that does not load ends the command (exit 1)."""
    if not (model_dir / "eco.py").is_file():
        raise fail(f"{model_dir} has no eco.py")
    result = load_model(model_dir, _limits(timeout))
    if result.ecosystem is None:
        print_text(Console(stderr=True), f"load {model_dir}", result.findings)
        raise typer.Exit(EXIT_FINDINGS)
    return result.ecosystem


def _limits(timeout: Optional[float]) -> SandboxLimits:
    try:
        limits = SandboxLimits.from_env()
    except ValueError as exc:
        raise fail(str(exc)) from None
    if timeout is not None:
        limits = SandboxLimits(**{**limits.__dict__, "wall_seconds": timeout})
    return limits


@app.command("lint")
def lint_command(
    model_dir: Path = typer.Argument(..., help="Folder holding eco.py (and dsg_platform_mapping.json)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    timeout: Optional[float] = typer.Option(None, help="Wall-clock limit for running the model, seconds."),
) -> None:
    """Load the model in the sandbox and lint it. Exit 0 clean, 1 errors found, 2 could not run."""
    if not model_dir.is_dir():
        raise fail(f"{model_dir} is not a folder")
    if not (model_dir / "eco.py").is_file():
        raise fail(f"{model_dir} has no eco.py; point at the folder of the model repository")
    result = load_model(model_dir, _limits(timeout))
    findings = list(result.findings)
    if result.ecosystem is not None:
        findings = sort_findings(findings + lint(result.ecosystem))
    title = f"lint {model_dir}"
    if format == OutputFormat.json:
        sys.stdout.write(to_json(findings))
    elif format == OutputFormat.markdown:
        sys.stdout.write(to_markdown(title, findings))
    else:
        print_text(Console(), title, findings)
        if result.stderr.strip() and has_errors(findings):
            Console(stderr=True).print(f"[dim]model output (stderr):[/dim]\n{result.stderr.rstrip()}")
    raise typer.Exit(EXIT_FINDINGS if has_errors(findings) else EXIT_CLEAN)


@app.command("validate")
def validate_command(
    base: Path = typer.Option(..., "--base", help="Checkout of the target branch (may be empty: initial check-in)."),
    head: Path = typer.Option(..., "--head", help="Checkout of the pull request's head."),
    source: str = typer.Option(..., "--source", help="The change source: OWNER/REPO@BRANCH of the pull request's head."),
    changed_files: Optional[list[str]] = typer.Option(None, "--changed-files", help="Changed paths (repeat); default: from git, or by comparing the folders."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the report to this file instead of stdout."),
    timeout: Optional[float] = typer.Option(None, help="Wall-clock limit for running each model, seconds."),
) -> None:
    """Decide whether HEAD may replace BASE. Exit 0 may merge, 1 errors found, 2 could not run."""
    from handler.reports import validation_report
    from handler.validation import ChangeSource, validate

    try:
        change_source = ChangeSource.parse(source)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not base.is_dir():
        raise fail(f"--base {base} is not a folder (use an empty folder for an initial check-in)")
    if not head.is_dir() or not (head / "eco.py").is_file():
        raise fail(f"--head {head} is not a model folder (no eco.py)")
    result = validate(base, head, change_source, changed_files, _limits(timeout))
    if format == OutputFormat.json:
        report = validation_report.to_json(result)
    elif format == OutputFormat.markdown:
        report = validation_report.to_markdown(result)
    else:
        report = ""
    if format == OutputFormat.text:
        console = Console(file=out.open("w") if out else None, width=200 if out else None)
        validation_report.print_validation(console, result)
    elif out is not None:
        out.write_text(report)
    else:
        sys.stdout.write(report)
    raise typer.Exit(EXIT_FINDINGS if result.verdict == "fail" else EXIT_CLEAN)


@app.command("render")
def render_command(
    model: Path = typer.Option(..., "--model", help="Model folder (eco.py)."),
    out: Path = typer.Option(..., "--out", help="Deployment repository folder to write."),
    templates: Optional[Path] = typer.Option(None, "--templates", help="Folder with your own argo/ and k8s/ templates."),
    model_commit: Optional[str] = typer.Option(None, "--model-commit", help="Model commit to record in labels and the manifest."),
    image: Optional[str] = typer.Option(None, "--image", help="Container image of the workflow steps."),
    repo_url: Optional[str] = typer.Option(None, "--repo-url", help="Deployment repository URL for the Argo CD Applications."),
) -> None:
    """Render platform artifacts into the deployment tree (files of removed platforms and streams are deleted)."""
    from handler.render import RenderOptions, render_tree, write_tree
    from handler.render.templates import Templates

    eco = load_or_exit(model)
    lint_errors = [f for f in lint(eco) if f.is_error]
    if lint_errors:
        print_text(Console(stderr=True), f"lint {model}", lint_errors)
        raise typer.Exit(EXIT_FINDINGS)
    overrides = {k: v for k, v in {"model_commit": model_commit, "image": image, "repo_url": repo_url}.items() if v}
    try:
        tree = render_tree(eco, RenderOptions(**overrides), Templates(templates))  # type: ignore[arg-type]
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    written = write_tree(tree, out)
    Console().print(
        f"rendered {len(tree)} files into {out}: {len(written.written)} written, "
        f"{len(written.unchanged)} unchanged, {len(written.deleted)} deleted", soft_wrap=True,
    )


@app.command("deploy")
def deploy_command(
    model: Path = typer.Option(Path("."), "--model", help="Model folder (a checkout of the model repository)."),
    deploy_repo: str = typer.Option(..., "--deploy-repo", help="Deployment repository URL (credentials in the URL or git config)."),
    branch: str = typer.Option("main", "--branch", help="Deployment branch."),
    model_commit: Optional[str] = typer.Option(None, "--model-commit", help="Model commit being deployed (default: HEAD of --model)."),
    model_repo: Optional[str] = typer.Option(None, "--model-repo", help="owner/name of the model repository (default: $GITHUB_REPOSITORY)."),
    work_dir: Path = typer.Option(Path(".datasurface-deploy"), "--work-dir", help="Where to keep the deployment clone."),
    repo_url: Optional[str] = typer.Option(None, "--repo-url", help="URL Argo CD syncs from (default: --deploy-repo)."),
) -> None:
    """Render the model and commit it to the deployment repository, exactly once per model commit."""
    import os

    import git

    from handler.deploy import DeployError, commit_deployment, local_model_git
    from handler.gitrepo import DeployRepo
    from handler.render import RenderOptions, render_tree

    try:
        model_git = local_model_git(model)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise fail(f"{model} is not inside a git checkout of the model repository") from None
    sha = model_commit or model_git.head.commit.hexsha
    name = model_repo or os.environ.get("GITHUB_REPOSITORY") or model.resolve().name
    eco = load_or_exit(model)
    errors = [f for f in lint(eco) if f.is_error]
    if errors:
        print_text(Console(stderr=True), f"lint {model}", errors)
        raise typer.Exit(EXIT_FINDINGS)
    tree = render_tree(eco, RenderOptions(model_commit=sha, repo_url=repo_url or deploy_repo, target_revision=branch))
    author = git.Actor(os.environ.get("GIT_AUTHOR_NAME", "datasurface-bot"), os.environ.get("GIT_AUTHOR_EMAIL", "datasurface-bot@users.noreply.github.com"))
    try:
        outcome = commit_deployment(tree, name, sha, model_git, DeployRepo(work_dir, deploy_repo, branch), author)
    except (DeployError, git.GitCommandError) as exc:
        Console(stderr=True).print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    Console().print(f"{outcome.kind}: {outcome.detail}", soft_wrap=True, markup=False)


@app.command("plan")
def plan_command(
    base: Path = typer.Option(..., "--base", help="Model folder before the merge (may be empty)."),
    head: Path = typer.Option(..., "--head", help="Model folder after the merge."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f"),
) -> None:
    """Show what a merge would add, change and remove in the deployment repository."""
    import msgspec

    from handler.render.preview import preview
    from handler.reports import preview_report

    if not base.is_dir():
        raise fail(f"--base {base} is not a folder")
    base_eco = load_or_exit(base) if (base / "eco.py").is_file() else None
    result = preview(base_eco, load_or_exit(head))
    if format == OutputFormat.json:
        sys.stdout.write(msgspec.json.encode(preview_report.to_dict(result)).decode() + "\n")
    elif format == OutputFormat.markdown:
        sys.stdout.write(preview_report.to_markdown(result))
    else:
        preview_report.print_preview(Console(), result)


@app.command("serve")
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


@app.command("demo")
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
    result = Demo(folder, pg_url, fast, duration, console).run()
    failed = [r for r in result.runs if r.status != "Succeeded"]
    console.print(f"demo finished in {time.monotonic() - started:.0f} s; work folder {folder} (run again to reuse it, --clean to start over)", soft_wrap=True)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_CLEAN)


@app.command("status")
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
    from workflows.db import psycopg2_url

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


@app.command("run-local")
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
app.add_typer(producer_app, name="producer")


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


@app.command("simulate")
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


@app.command("model-json")
def model_json_command(
    model_dir: Path = typer.Argument(..., help="Folder holding eco.py."),
    out: Optional[Path] = typer.Option(None, help="Write to this file instead of stdout."),
) -> None:
    """Print the model's canonical JSON (sorted, stable: byte-identical for the same model)."""
    data = load_or_exit(model_dir).to_canonical_json()
    if out is not None:
        out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data + b"\n")


@app.command("rules")
def rules_command() -> None:
    """Print the reference of every rule id (Markdown), as in docs/rules.md."""
    from handler.reports.rules_reference import rules_markdown

    sys.stdout.write(rules_markdown())


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(f"datasurface {__version__}")


if __name__ == "__main__":
    app()
