"""The deployment runner: render a merge and commit it to the deployment repository, exactly
once, and only a model that was validated. Thin: the work is in ``handler.deploy``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import git

from handler.deploy import bot_author, deploy_model_commit, last_deployed_commit
from handler.gitrepo import DeployRepo, ModelMirror
from handler.render import RenderOptions
from handler.reports.findings_report import to_markdown as findings_markdown
from handler.reports.validation_report import to_markdown
from handler.service.events import PushEvent
from handler.service.jobs import DEPLOY_CONTEXT, JobContext, RunResult
from handler.service.rollout_runner import rollout_payload
from handler.validation import ChangeSource, validate

DEPLOY_MARKER = "<!-- datasurface:deploy -->"


def deploy_merge(event: PushEvent, ctx: JobContext) -> RunResult:
    """Render the merged model and commit it to the deployment repository, exactly once; only a
    model that was validated, and only when it is compatible with the model deployed now."""
    config, vcs = ctx.config, ctx.vcs
    started = time.monotonic()
    ctx.status(event.repo, event.sha, DEPLOY_CONTEXT, "pending", "DataSurface is deploying this commit")
    mirror = ModelMirror(config.work_dir, event.repo)
    model_repo = mirror.fetch(vcs.clone_url(event.clone_url))
    deploy = DeployRepo(config.work_dir, vcs.clone_url(config.deploy_repo_url), config.deploy_branch)
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
        blocked = _breaks_what_is_deployed(event, ctx, mirror, model_repo, deploy, model_dir, Path(tmp))
        if blocked is not None:
            return blocked
        outcome = deploy_model_commit(
            model_dir,
            model_repo,
            event.repo,
            event.sha,
            deploy,
            RenderOptions(
                repo_url=config.deploy_repo_url,
                target_revision=config.deploy_branch,
                pull_request=next(iter(vcs.pulls_of_commit(event.repo, event.sha)), None),
                web_url=config.web_url,
                argo_ui_url=config.argo_ui_url or RenderOptions.argo_ui_url,
                monitoring_labels=config.monitoring_labels,
            ),
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
        if config.track_rollouts:
            ctx.ledger.enqueue(
                "rollout",
                f"rollout:{event.repo}@{event.sha}",
                rollout_payload(event.repo, event.sha, outcome.deploy_commit),
            )
    return RunResult("done", outcome.detail)


def _breaks_what_is_deployed(
    event: PushEvent,
    ctx: JobContext,
    mirror: ModelMirror,
    model_repo: git.Repo,
    deploy: DeployRepo,
    model_dir: Path,
    tmp: Path,
) -> RunResult | None:
    """Validate the merged model against the model deployed now (lint, compatibility, acceptance;
    ownership was settled by review). An admin merge that skipped the check, or two pull requests
    each fine alone, must not deploy a breaking change. None when it may deploy."""
    deployed = last_deployed_commit(deploy)
    if deployed is None or deployed == event.sha or not ModelMirror.has_commit(model_repo, deployed):
        return None
    if ModelMirror.is_ancestor(model_repo, event.sha, deployed):
        return None  # older than what is deployed: deployment says "superseded"
    base = mirror.export(model_repo, deployed, tmp / "deployed")
    result = validate(
        base, model_dir, ChangeSource(event.repo, event.branch), [], ctx.config.sandbox_limits(), check_ownership=False
    )
    if result.verdict == "pass":
        return None
    errors = [f for f in result.findings if f.is_error]
    description = f"Not deployed: {errors[0].rule} against deployed {deployed[:12]}"
    body = _blocked_comment(event, deployed, to_markdown(result, against=f"deployed {deployed[:12]}"))
    for number in ctx.vcs.pulls_of_commit(event.repo, event.sha):
        ctx.vcs.upsert_comment(event.repo, number, body, DEPLOY_MARKER)
    ctx.status(event.repo, event.sha, DEPLOY_CONTEXT, "failure", description[:140])
    return RunResult("failed", description, body)


def _blocked_comment(event: PushEvent, deployed: str, report: str) -> str:
    return (
        f"## ⛔ DataSurface: {event.sha[:12]} is merged but not deployed\n\n"
        f"Compared with the model deployed now ({deployed[:12]}), this merge breaks what consumers and "
        "the merge tables depend on, so the deployment stays where it is. To recover, either **revert** "
        "this merge, or **fix forward** with a pull request that restores compatibility; the next merge "
        'that passes deploys everything since. See docs/operations.md, "A merge that is not deployed".\n\n'
        f"<details><summary>The checks against the deployed model</summary>\n\n{report}\n</details>\n"
    )
