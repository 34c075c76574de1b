"""The rollout runner: after a deployment, follow Argo CD's sync and each stream's first
workflow run, and tell the merged pull request how it went.

A rollout takes minutes, so no worker waits on it: each job looks once and, while the rollout
is pending, queues its next look with a not-before time. The state lives in the queue, so a
restarted service carries on where it was. Results: the ``datasurface/rollout`` commit status
on the model commit (linking to the first failed run, or to Argo CD) and one rollout comment
on the pull request the commit merged, updated in place.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from handler.gitrepo import DeployRepo, ModelMirror
from handler.reports.rollout_report import ROLLOUT_MARKER, to_markdown
from handler.rollout.backend import KubernetesBackend, RolloutBackend
from handler.rollout.model import RolloutReport
from handler.rollout.tracker import check_rollout
from handler.service.jobs import ROLLOUT_CONTEXT, JobContext, RunResult
from workflows.notify import send

log = logging.getLogger("datasurface.service")


def rollout_payload(repo: str, model_commit: str, deploy_commit: str) -> dict[str, Any]:
    """The job that follows a new deployment (queued by the deploy runner)."""
    return {"repo": repo, "sha": model_commit, "deploy_commit": deploy_commit, "started": time.time()}


def follow_rollout(payload: dict[str, Any], ctx: JobContext, backend: RolloutBackend | None = None) -> RunResult:
    """Look at the rollout once; report it when it settled, else queue the next look."""
    config = ctx.config
    repo, sha, deploy_commit = payload["repo"], payload["sha"], payload["deploy_commit"]
    deploy = DeployRepo(config.work_dir, ctx.vcs.clone_url(config.deploy_repo_url), config.deploy_branch)
    with deploy.locked():
        deploy_git = deploy.sync()
        newest = DeployRepo.deployed_commits(deploy_git)
        if newest and newest[0] != sha:
            description = f"Superseded by the deployment of {newest[0][:12]} before this one settled"
            ctx.vcs.set_status(repo, sha, ROLLOUT_CONTEXT, "success", description, _argocd_link(ctx))
            return RunResult("done", description)
        with tempfile.TemporaryDirectory(prefix="datasurface-rollout-") as tmp:
            tree = ModelMirror.export(deploy_git, deploy_commit, Path(tmp) / "deployment")
            timed_out = time.time() - float(payload["started"]) >= config.rollout_timeout
            backend = backend or KubernetesBackend(config.argocd_namespace, config.kubeconfig, config.kube_context)
            report = check_rollout(backend, tree, sha, deploy_commit, timed_out=timed_out)
    if report.verdict == "pending":
        if ctx.attempt == 1 and not payload.get("looked"):
            ctx.vcs.set_status(repo, sha, ROLLOUT_CONTEXT, "pending", _description(report), _argocd_link(ctx))
        ctx.ledger.enqueue(
            "rollout",
            f"rollout:{repo}@{sha}",
            {**payload, "looked": True},
            not_before=time.time() + config.rollout_poll,
        )
        return RunResult("done", f"pending: {report.reason}; looking again in {config.rollout_poll:g}s")
    ctx.observe("rollout", time.time() - float(payload["started"]))
    comment = ROLLOUT_MARKER + "\n" + to_markdown(report, config.argocd_ui_url or "", config.argo_ui_url or "")
    for number in ctx.vcs.pulls_of_commit(repo, sha):
        ctx.vcs.upsert_comment(repo, number, comment, marker=ROLLOUT_MARKER)
    ctx.vcs.set_status(repo, sha, ROLLOUT_CONTEXT, report.verdict, _description(report), _target(ctx, report))
    if report.verdict == "failure":
        log.warning("rollout failed", extra={"repo": repo, "sha": sha, "reason": report.reason})
        if config.notify_url is not None:
            message = f":red_circle: DataSurface rollout of {repo}@{sha[:12]} failed: {report.reason}"
            link = _target(ctx, report)
            sent = send({"text": message + (f"\nSee: {link}" if link else "")}, config.notify_url.get_secret_value())
            log.info("rollout failure notification", extra={"result": sent})
    return RunResult("done" if report.verdict == "success" else "failed", report.reason, comment)


def _description(report: RolloutReport) -> str:
    text = {"success": "Rolled out: ", "failure": "Rollout failed: ", "pending": "Rolling out: "}[report.verdict]
    text += report.reason
    return text if len(text) <= 140 else text[:139] + "…"


def _argocd_link(ctx: JobContext) -> str | None:
    ui = ctx.config.argocd_ui_url
    return f"{ui.rstrip('/')}/applications" if ui else ctx.target_url


def _target(ctx: JobContext, report: RolloutReport) -> str | None:
    """Where a reader of the status goes: the first failed run, else Argo CD, else this job."""
    ui = ctx.config.argo_ui_url
    failed = [s.run for s in report.streams if s.run is not None and s.run.phase in ("Failed", "Error")]
    if ui and failed:
        return f"{ui.rstrip('/')}/workflows/{failed[0].namespace}/{failed[0].name}"
    return _argocd_link(ctx)
