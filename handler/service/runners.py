"""One runner per job kind: validate a pull request; deploy a merge. Thin: the work is in
``handler.validation`` and ``handler.render``; these fetch, call and report."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from handler.deploy import bot_author, deploy_model_commit
from handler.findings import Severity
from handler.gitrepo import DeployRepo, ModelMirror
from handler.render import RenderOptions
from handler.reports.findings_report import to_markdown as findings_markdown
from handler.reports.validation_report import to_markdown
from handler.service.config import ServiceConfig
from handler.service.events import PullRequestEvent, PushEvent
from handler.service.vcs import VcsClient
from handler.validation import ChangeSource, validate

VALIDATE_CONTEXT = "datasurface/validate"
DEPLOY_CONTEXT = "datasurface/deploy"


@dataclass(frozen=True)
class RunResult:
    status: str  # done | failed
    summary: str
    report: str | None = None  # Markdown shown on the job's page


@dataclass(frozen=True)
class JobContext:
    """What a runner works with: the configuration, the VCS client, a metrics hook, and the
    address of the job's page on this service (each status links to it)."""

    config: ServiceConfig
    vcs: VcsClient
    observe: Callable[[str, float], None]
    ledger: ValidationLedger
    target_url: str | None = None


class ValidationLedger(Protocol):
    """Where validations record the model they judged, and deployments look it up (the job queue)."""

    def record_validation(
        self, repo: str, tree: str, model_hash: str, verdict: str, pull_request: int, sha: str
    ) -> None: ...

    def validated_hashes(self, repo: str, tree: str) -> set[str]: ...


def validate_pull_request(event: PullRequestEvent, ctx: JobContext) -> RunResult:
    config, vcs = ctx.config, ctx.vcs
    started = time.monotonic()
    vcs.set_status(
        event.repo, event.head_sha, VALIDATE_CONTEXT, "pending", "DataSurface is validating this change", ctx.target_url
    )
    mirror = ModelMirror(config.work_dir, event.repo)
    repo = mirror.fetch(vcs.clone_url(event.clone_url))
    if event.head_clone_url != event.clone_url:  # a fork: its commits come from its own repository
        repo.git.fetch(vcs.clone_url(event.head_clone_url), event.head_sha)
    changed = vcs.pr_files(event.repo, event.number)
    content = ModelMirror.pr_content_rev(repo, event.number, event.head_sha)
    with tempfile.TemporaryDirectory(prefix="datasurface-pr-") as tmp:
        base = mirror.export(repo, event.base_sha, Path(tmp) / "base")
        head = mirror.export(repo, content, Path(tmp) / "head")
        result = validate(
            base, head, ChangeSource(event.head_repo, event.head_branch), changed, config.sandbox_limits()
        )
    if result.head is not None:  # what a merge of this tree may deploy: exactly this model
        tree = repo.commit(content).tree.hexsha
        ctx.ledger.record_validation(
            event.repo, tree, result.head.canonical_hash(), result.verdict, event.number, event.head_sha
        )
    report = to_markdown(result)
    vcs.upsert_comment(event.repo, event.number, report)
    errors = sum(1 for f in result.findings if f.severity == Severity.ERROR)
    warnings = len(result.findings) - errors
    if result.verdict == "pass":
        description = f"May merge: {warnings} warnings, {len(result.changes)} model changes"
        vcs.set_status(event.repo, event.head_sha, VALIDATE_CONTEXT, "success", description, ctx.target_url)
    else:
        vcs.set_status(
            event.repo,
            event.head_sha,
            VALIDATE_CONTEXT,
            "failure",
            f"{errors} errors: see the DataSurface comment",
            ctx.target_url,
        )
    ctx.observe("validation", time.monotonic() - started)
    return RunResult("done", f"{result.verdict}: {errors} errors, {warnings} warnings", report)


def deploy_merge(event: PushEvent, ctx: JobContext) -> RunResult:
    """Render the merged model and commit it to the deployment repository, exactly once."""
    config, vcs = ctx.config, ctx.vcs
    started = time.monotonic()
    vcs.set_status(
        event.repo, event.sha, DEPLOY_CONTEXT, "pending", "DataSurface is deploying this commit", ctx.target_url
    )
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
            vcs.set_status(event.repo, event.sha, DEPLOY_CONTEXT, "failure", description, ctx.target_url)
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
        vcs.set_status(
            event.repo,
            event.sha,
            DEPLOY_CONTEXT,
            "failure",
            outcome.detail[:1].upper() + outcome.detail[1:],
            ctx.target_url,
        )
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
    vcs.set_status(event.repo, event.sha, DEPLOY_CONTEXT, "success", descriptions[outcome.kind], ctx.target_url)
    if outcome.kind == "deployed":
        ctx.observe("deploy", time.monotonic() - started)
    return RunResult("done", outcome.detail)
