"""After the merge: ``datasurface rollout`` (follow a deployment through Argo CD to its first
runs), ``runs`` (recent runs of each stream) and ``rerun`` (a run now, from its CronWorkflow)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from handler.cli.common import EXIT_FINDINGS, fail
from handler.reports.findings_report import OutputFormat

if TYPE_CHECKING:
    from handler.rollout.argo_server import ArgoServer
    from handler.rollout.model import ExpectedStream, RolloutReport, RunState

app = typer.Typer()

ARGO_SERVER = typer.Option(
    ..., "--argo-server", envvar="DATASURFACE_ARGO_SERVER", help="Argo Server URL (https://argo.example.com)."
)
ARGO_TOKEN = typer.Option(
    None,
    "--argo-token-file",
    envvar="DATASURFACE_ARGO_TOKEN_FILE",
    help="File with the Argo Server token (or set DATASURFACE_ARGO_TOKEN / ARGO_TOKEN).",
)
ARGO_UI = typer.Option(
    None,
    "--argo-ui",
    envvar="DATASURFACE_ARGO_UI_URL",
    help="Argo Workflows UI URL for links (default: --argo-server).",
)
DEPLOYMENT = typer.Option(Path(), "--deployment", help="A checkout of the deployment repository (what is deployed).")
PLATFORM = typer.Option(None, "--platform", "-p", help="Only this platform.")
STREAM = typer.Option(None, "--stream", "-s", help="Only this stream.")
EXIT_PENDING = 3
VERDICT_EXIT = {"success": 0, "failure": EXIT_FINDINGS, "pending": EXIT_PENDING}


@app.command("rollout")
def rollout_command(
    model_commit: str = typer.Option(..., "--model-commit", help="The merged model commit whose rollout to follow."),
    deployment: Path = typer.Option(Path(), "--deployment", help="A clone of the deployment repository."),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="Kubeconfig (default: in-cluster, then ~/.kube/config)."
    ),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context."),
    argocd_namespace: str = typer.Option(
        "argocd",
        "--argocd-namespace",
        envvar="DATASURFACE_ARGOCD_NAMESPACE",
        help="Namespace of the Argo CD Applications.",
    ),
    timeout: float = typer.Option(1800.0, "--timeout", help="Seconds to wait for the rollout to settle."),
    poll: float = typer.Option(10.0, "--poll", help="Seconds between looks."),
    once: bool = typer.Option(False, "--once", help="Look once and report (exit 3 while pending)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f"),
    argo_ui: str = typer.Option(
        "", "--argo-ui", envvar="DATASURFACE_ARGO_UI_URL", help="Argo Workflows UI base URL, for links."
    ),
    argocd_ui: str = typer.Option(
        "", "--argocd-ui", envvar="DATASURFACE_ARGOCD_UI_URL", help="Argo CD UI base URL, for links."
    ),
) -> None:
    """Follow a model commit's rollout: Argo CD syncs its deployment commit, healthy, and each
    stream's first run on it succeeds. Exit 0 success, 1 failure or timeout, 3 still pending (--once)."""
    import tempfile

    import git

    from handler.gitrepo import ModelMirror
    from handler.reports import rollout_report
    from handler.rollout.backend import KubernetesBackend
    from handler.rollout.tracker import check_rollout, track_rollout

    try:
        repo = git.Repo(deployment)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise fail(f"{deployment} is not a clone of the deployment repository") from None
    log = repo.git.log("--format=%H %(trailers:key=Model-Commit,valueonly,separator=)", "HEAD").splitlines()
    deploy_commit = next((line.split()[0] for line in log if line.endswith(f" {model_commit}")), None)
    if deploy_commit is None:
        raise fail(
            f"no deployment commit in {deployment} names model commit {model_commit} (git fetch, or wait for the deploy)"
        )
    backend = KubernetesBackend(argocd_namespace, kubeconfig, context)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="datasurface-rollout-") as tmp:
        tree = ModelMirror.export(repo, deploy_commit, Path(tmp))
        if once:
            report = check_rollout(backend, tree, model_commit, deploy_commit)
        else:

            def progress(r: RolloutReport) -> None:
                console.print(f"{r.verdict}: {r.reason}", soft_wrap=True, markup=False)

            report = track_rollout(backend, tree, model_commit, deploy_commit, timeout, poll, progress)
    if format == OutputFormat.markdown:
        sys.stdout.write(rollout_report.to_markdown(report, argocd_ui, argo_ui))
    elif format == OutputFormat.json:
        import msgspec

        sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
    else:
        rollout_report.print_rollout(console, report)
    raise typer.Exit(VERDICT_EXIT[report.verdict])


def _argo_server(url: str, token_file: Path | None) -> ArgoServer:
    import os

    from handler.rollout.argo_server import ArgoServer

    if token_file is not None:
        try:
            token: str | None = token_file.read_text().strip()
        except OSError as exc:
            raise fail(f"cannot read the Argo Server token: {exc}") from None
    else:
        token = os.environ.get("DATASURFACE_ARGO_TOKEN") or os.environ.get("ARGO_TOKEN")
    return ArgoServer(url if "://" in url else f"https://{url}", token)


def _streams(deployment: Path, platform: str | None, stream: str | None) -> list[ExpectedStream]:
    from handler.rollout.expected import expected_rollout

    _, streams = expected_rollout(deployment)
    if not streams:
        raise fail(f"{deployment} holds no CronWorkflows: give --deployment a checkout of the deployment repository")
    chosen = [s for s in streams if platform in (None, s.platform) and stream in (None, s.stream)]
    if not chosen:
        known = ", ".join(sorted(f"{s.platform}/{s.stream}" for s in streams))
        raise fail(f"no stream matches --platform {platform or '*'} --stream {stream or '*'}; streams: {known}")
    return chosen


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _duration(run: RunState) -> str:
    if not (run.started_at and run.finished_at):
        return ""
    seconds = int((_timestamp(run.finished_at) - _timestamp(run.started_at)).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _run_row(run: RunState, ui: str) -> dict[str, Any]:
    return {
        "platform": run.platform,
        "stream": run.stream,
        "name": run.name,
        "phase": run.phase,
        "started": run.started_at,
        "duration": _duration(run),
        "model_commit": run.model_commit,
        **{k: run.outputs.get(k, "") for k in ("batch", "inserted", "updated", "deleted")},
        "message": run.message,
        "url": f"{ui.rstrip('/')}/workflows/{run.namespace}/{run.name}",
    }


@app.command("runs")
def runs_command(
    argo_server: str = ARGO_SERVER,
    argo_token_file: Path | None = ARGO_TOKEN,
    argo_ui: str | None = ARGO_UI,
    deployment: Path = DEPLOYMENT,
    platform: str | None = PLATFORM,
    stream: str | None = STREAM,
    limit: int = typer.Option(5, "--limit", "-n", min=1, max=500, help="Runs per stream."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f"),
) -> None:
    """The recent runs of each stream: phase, start, duration, batch, row counts, Argo UI link."""
    import json

    from handler.rollout.argo_server import ArgoServerError

    server = _argo_server(argo_server, argo_token_file)
    ui = argo_ui or argo_server
    try:
        rows = [_run_row(run, ui) for s in _streams(deployment, platform, stream) for run in server.runs(s, limit)]
    except ArgoServerError as exc:
        raise fail(str(exc)) from None
    if format == OutputFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="recent runs")
    columns = ("platform", "stream", "name", "phase", "started", "duration", "batch", "inserted", "updated", "deleted")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    console = Console()
    console.print(table)
    for row in rows:
        if row["phase"] in ("Failed", "Error"):
            console.print(f"{row['name']}: {row['message']} {row['url']}", markup=False, soft_wrap=True)


@app.command("rerun")
def rerun_command(
    platform: str = typer.Option(..., "--platform", "-p", help="The stream's platform."),
    stream: str = typer.Option(..., "--stream", "-s", help="The stream to run now."),
    argo_server: str = ARGO_SERVER,
    argo_token_file: Path | None = ARGO_TOKEN,
    argo_ui: str | None = ARGO_UI,
    deployment: Path = DEPLOYMENT,
    wait: bool = typer.Option(False, "--wait", help="Follow the run to its end (exit 1 if it fails)."),
    timeout: float = typer.Option(3600.0, "--timeout", help="Seconds --wait follows the run."),
    poll: float = typer.Option(5.0, "--poll", help="Seconds between looks with --wait."),
) -> None:
    """Run a stream now, from its CronWorkflow (its mutex still keeps one run at a time)."""
    from handler.rollout.argo_server import ArgoServerError

    (chosen,) = _streams(deployment, platform, stream)
    server = _argo_server(argo_server, argo_token_file)
    ui = argo_ui or argo_server
    console = Console()
    try:
        run = server.submit(chosen)
        console.print(f"submitted {run.name}: {_run_row(run, ui)['url']}", markup=False, soft_wrap=True)
        if not wait:
            return
        run = server.wait(run, timeout, poll, lambda r: console.print(f"{r.name}: {r.phase}", markup=False))
    except ArgoServerError as exc:
        raise fail(str(exc)) from None
    row = _run_row(run, ui)
    counts = ", ".join(f"{k} {row[k]}" for k in ("batch", "inserted", "updated", "deleted") if row[k])
    console.print(
        f"{run.name}: {run.phase}" + (f" ({counts})" if counts else "") + (f": {run.message}" if run.message else ""),
        markup=False,
        soft_wrap=True,
    )
    if run.phase != "Succeeded":
        raise typer.Exit(EXIT_FINDINGS if run.phase in ("Failed", "Error") else EXIT_PENDING)
