"""A rollout as the pull request's comment (Markdown) and as a terminal table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from handler.reports.markdown import code, escape
from handler.rollout.model import RolloutReport, StreamRollout

ROLLOUT_MARKER = "<!-- datasurface:rollout -->"
_ICON = {"pending": "⏳", "success": "✅", "failure": "❌"}


def _counts(stream: StreamRollout) -> tuple[str, str, str, str]:
    outputs = stream.run.outputs if stream.run else {}
    return tuple(outputs.get(k, "") or "-" for k in ("batch", "inserted", "updated", "deleted"))  # type: ignore[return-value]


def to_markdown(report: RolloutReport, argocd_ui: str = "", argo_ui: str = "") -> str:
    lines = [
        f"## {_ICON[report.verdict]} DataSurface rollout of {code(report.model_commit[:12])}: {report.verdict}",
        "",
        f"Deployment commit {code(report.deploy_commit[:12])} · {escape(report.reason)}",
        "",
        "| Argo CD application | sync | revision | health |",
        "|---|---|---|---|",
    ]
    for app in report.apps:
        name = (
            f"[{escape(app.name)}]({argocd_ui.rstrip('/')}/applications/{app.name})"
            if argocd_ui
            else code(app.name, in_table=True)
        )
        lines.append(
            f"| {name} | {escape(app.sync_status)} | {code(app.revision[:12] or '-', in_table=True)} | {escape(app.health)} |"
        )
    lines += [
        "",
        "| platform | stream | first run | phase | batch | inserted | updated | deleted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stream in report.streams:
        run = stream.run
        if run is None:
            link, phase = "-", "not started"
        elif argo_ui:
            link, phase = f"[{escape(run.name)}]({argo_ui.rstrip('/')}/workflows/{run.namespace}/{run.name})", run.phase
        else:
            link, phase = code(run.name, in_table=True), run.phase
        batch, inserted, updated, deleted = _counts(stream)
        lines.append(
            f"| {escape(stream.expected.platform)} | {escape(stream.expected.stream)} | {link} | {escape(phase)} | "
            f"{batch} | {inserted} | {updated} | {deleted} |"
        )
    return "\n".join(lines) + "\n"


def print_rollout(console: Console, report: RolloutReport) -> None:
    apps = Table(title=f"rollout of {report.model_commit[:12]} (deployment {report.deploy_commit[:12]})")
    for column in ("application", "sync", "revision", "health"):
        apps.add_column(column)
    for app in report.apps:
        apps.add_row(app.name, app.sync_status, app.revision[:12], app.health)
    console.print(apps)
    runs = Table()
    for column in ("platform", "stream", "first run", "phase", "batch", "inserted", "updated", "deleted"):
        runs.add_column(column)
    for stream in report.streams:
        run = stream.run
        runs.add_row(
            stream.expected.platform,
            stream.expected.stream,
            run.name if run else "-",
            run.phase if run else "not started",
            *_counts(stream),
        )
    console.print(runs)
    console.print(f"{report.verdict}: {report.reason}", soft_wrap=True, markup=False)
