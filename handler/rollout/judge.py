"""Judging a rollout from what Argo CD and Argo Workflows report (pure)."""

from __future__ import annotations

from handler.rollout.model import AppState, ExpectedStream, RolloutReport, RunState, StreamRollout

FAILED_RUN_PHASES = frozenset({"Failed", "Error"})


def judge(
    model_commit: str,
    deploy_commit: str,
    expected_apps: list[str],
    apps: list[AppState],
    expected: list[ExpectedStream],
    runs: list[RunState],
    timed_out: bool = False,
) -> RolloutReport:
    """Success when every expected Application is synced to the deployment commit and healthy,
    and every stream's first run on the model commit succeeded; failure as soon as one is
    degraded, failed to sync, or its first run failed, or when the time is up; pending otherwise."""
    by_name = {app.name: app for app in apps}
    streams = [StreamRollout(stream, _first_run(stream, model_commit, runs)) for stream in expected]
    failure = _app_failure(expected_apps, by_name, deploy_commit) or _run_failure(streams)
    if failure:
        return RolloutReport(model_commit, deploy_commit, "failure", failure, apps, streams)
    waiting = _waiting_for(expected_apps, by_name, deploy_commit, streams)
    if not waiting:
        return RolloutReport(
            model_commit,
            deploy_commit,
            "success",
            "synced, healthy, and every stream's first run succeeded",
            apps,
            streams,
        )
    if timed_out:
        return RolloutReport(model_commit, deploy_commit, "failure", f"timed out waiting for {waiting}", apps, streams)
    return RolloutReport(model_commit, deploy_commit, "pending", f"waiting for {waiting}", apps, streams)


def _first_run(stream: ExpectedStream, model_commit: str, runs: list[RunState]) -> RunState | None:
    mine = [r for r in runs if (r.platform, r.stream, r.model_commit) == (stream.platform, stream.stream, model_commit)]
    return min(mine, key=lambda r: (r.started_at or "~", r.name)) if mine else None


def _app_failure(expected: list[str], apps: dict[str, AppState], deploy_commit: str) -> str:
    for name in expected:
        app = apps.get(name)
        if app is None:
            continue
        if app.operation_phase in ("Failed", "Error"):
            return f"Argo CD could not sync {name}: {app.message or app.operation_phase}"
        if app.revision == deploy_commit and app.health == "Degraded":
            return f"{name} is Degraded after the sync" + (f": {app.message}" if app.message else "")
        if app.revision == deploy_commit and app.sync_status == "OutOfSync" and app.operation_phase == "Succeeded":
            return f"{name} is OutOfSync after a sync to {deploy_commit[:12]}"
    return ""


def _run_failure(streams: list[StreamRollout]) -> str:
    for stream in streams:
        if stream.run is not None and stream.run.phase in FAILED_RUN_PHASES:
            detail = f": {stream.run.message}" if stream.run.message else ""
            return f"the first run of {stream.expected.platform}/{stream.expected.stream} {stream.run.phase.lower()}{detail}"
    return ""


def _waiting_for(
    expected: list[str], apps: dict[str, AppState], deploy_commit: str, streams: list[StreamRollout]
) -> str:
    for name in expected:
        app = apps.get(name)
        if app is None or app.revision != deploy_commit or app.sync_status != "Synced":
            return f"Argo CD to sync {name} to {deploy_commit[:12]}"
        if app.health != "Healthy":
            return f"{name} to be Healthy (now {app.health})"
    for stream in streams:
        if stream.run is None:
            return f"the first run of {stream.expected.platform}/{stream.expected.stream}"
        if stream.run.phase != "Succeeded":
            return f"{stream.run.name} to finish (now {stream.run.phase})"
    return ""
