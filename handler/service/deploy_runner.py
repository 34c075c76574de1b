"""The deployment runner: render a merge and commit it to the deployment repository, exactly
once, and only a model that was validated. Thin: the work is in ``handler.deploy``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from handler.deploy import bot_author, deploy_model_commit
from handler.gitrepo import DeployRepo, ModelMirror
from handler.render import RenderOptions
from handler.reports.findings_report import to_markdown as findings_markdown
from handler.service.events import PushEvent
from handler.service.jobs import DEPLOY_CONTEXT, JobContext, RunResult


def deploy_merge(event: PushEvent, ctx: JobContext) -> RunResult:
    """Render the merged model and commit it to the deployment repository, exactly once."""
    config, vcs = ctx.config, ctx.vcs
    started = time.monotonic()
    ctx.status(event.repo, event.sha, DEPLOY_CONTEXT, "pending", "DataSurface is deploying this commit")
    mirror = ModelMirror(config.work_dir, event.repo)
    model_repo = mirror.fetch(vcs.clone_url(event.clone_url))
    deploy = DeployRepo(config.work_dir, vcs.clone_url(config.deploy_repo_url), config.deploy_branch)
    options = RenderOptions(repo_url=config.deploy_repo_url, target_revision=config.deploy_branch)
    validated: set[str] | None = None
    if config.require_validated_deploys:
        validated = ctx.ledger.validated_hashes(event.repo, model_repo.commit(event.sha).tree.hexsha)
        if not validated:
            description = (
                f"Not deployed: {event.sha[:12]} matches no validated pull request (merge only validated, "
                "up-to-date branches)"
            )
            ctx.status(event.repo, event.sha, DEPLOY_CONTEXT, "failure", description)
            return RunResult("failed", description)
    with tempfile.TemporaryDirectory(prefix="datasurface-deploy-") as tmp:
        model_dir = mirror.export(model_repo, event.sha, Path(tmp) / "model")
        outcome = deploy_model_commit(
            model_dir,
            model_repo,
            event.repo,
            event.sha,
            deploy,
            options,
            author=bot_author(config.git_author_name, config.git_author_email),
            limits=config.sandbox_limits(),
            validated_hashes=validated,
        )
    if outcome.kind == "rejected":
        ctx.status(event.repo, event.sha, DEPLOY_CONTEXT, "failure", outcome.detail[:1].upper() + outcome.detail[1:])
        return RunResult(
            "failed",
            outcome.detail,
            findings_markdown(f"Not deployed: {event.repo}@{event.sha[:12]}", list(outcome.findings)),
        )
    descriptions = {
        "deployed": f"Deployed as {outcome.deploy_commit[:12]}",
        "already-deployed": f"Already deployed ({outcome.deploy_commit[:12]})",
        "superseded": f"Superseded: {outcome.detail}",
    }
    ctx.status(event.repo, event.sha, DEPLOY_CONTEXT, "success", descriptions[outcome.kind])
    if outcome.kind == "deployed":
        ctx.observe("deploy", time.monotonic() - started)
    return RunResult("done", outcome.detail)
