"""The validation runner: judge a pull request merged into its base as the base is now, then
keep one sticky comment and the ``datasurface/validate`` status up to date. Thin: the work is in
``handler.validation``; this fetches, calls and reports."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

from github import GithubException

from handler.findings import Severity
from handler.gitrepo import ModelMirror
from handler.loading import load_model
from handler.render.preview import preview
from handler.reports.preview_report import to_markdown as preview_markdown
from handler.reports.validation_report import to_markdown
from handler.service.events import (
    CommandEvent,
    MergeGroupEvent,
    PullRequestEvent,
    RevalidateEvent,
    pull_request_from_api,
    to_dict,
)
from handler.service.jobs import DELETED_FORK, VALIDATE_CONTEXT, JobContext, RunResult
from handler.validation import ChangeSource, validate


def validate_pull_request(event: PullRequestEvent, ctx: JobContext) -> RunResult:
    config, vcs = ctx.config, ctx.vcs
    started = time.monotonic()
    ctx.status(event.repo, event.head_sha, VALIDATE_CONTEXT, "pending", "DataSurface is validating this change")
    mirror = ModelMirror(config.work_dir, event.repo)
    repo = mirror.fetch(vcs.clone_url(event.clone_url))  # with refs/pull/*/head: forks' heads too
    if not ModelMirror.has_commit(repo, event.head_sha) and event.head_repo:
        repo.git.fetch(vcs.clone_url(event.head_clone_url), event.head_sha)
    # Judged: the pull request merged into the base branch as it is now (not as it was when the
    # branch was cut), with the files that merge changes, from git.
    base_sha = ModelMirror.branch_head(repo, event.base_branch) or event.base_sha
    merged = ModelMirror.merge_result(repo, base_sha, event.head_sha)
    against = f"{event.base_branch} {base_sha[:7]}"
    if merged is None:
        return _conflicts(event, ctx, against)
    changed = ModelMirror.changed_files(repo, base_sha, merged)
    source = ChangeSource(event.head_repo or DELETED_FORK, event.head_branch)
    with tempfile.TemporaryDirectory(prefix="datasurface-pr-") as tmp:
        base = mirror.export(repo, base_sha, Path(tmp) / "base")
        head = mirror.export(repo, merged, Path(tmp) / "head")
        result = validate(base, head, source, changed, config.sandbox_limits())
    if result.head is not None:  # what a merge of this tree may deploy: exactly this model
        ctx.ledger.record_validation(
            event.repo, merged, result.head.canonical_hash(), result.verdict, event.number, event.head_sha
        )
    report = to_markdown(result, against=against)
    vcs.upsert_comment(event.repo, event.number, report)
    errors = sum(1 for f in result.findings if f.severity == Severity.ERROR)
    warnings = len(result.findings) - errors
    if result.verdict == "pass":
        description = f"May merge into {against}: {warnings} warnings, {len(result.changes)} model changes"
        ctx.status(event.repo, event.head_sha, VALIDATE_CONTEXT, "success", description)
    else:
        description = f"{errors} errors against {against}: see the DataSurface comment"
        ctx.status(event.repo, event.head_sha, VALIDATE_CONTEXT, "failure", description)
    ctx.observe("validation", time.monotonic() - started)
    return RunResult("done", f"{result.verdict} against {against}: {errors} errors, {warnings} warnings", report)


def _conflicts(event: PullRequestEvent, ctx: JobContext, against: str) -> RunResult:
    message = (
        f"## ❌ DataSurface: this change conflicts with {against}\n\n"
        f"The branch cannot be merged into {event.base_branch} as it is now. Merge or rebase "
        f"{event.base_branch} into the branch and resolve the conflicts; DataSurface validates the result.\n"
    )
    ctx.vcs.upsert_comment(event.repo, event.number, message)
    ctx.status(event.repo, event.head_sha, VALIDATE_CONTEXT, "failure", f"Conflicts with {against}: merge or rebase it")
    return RunResult("done", f"conflicts with {against}", message)


def revalidate_open_pulls(event: RevalidateEvent, ctx: JobContext) -> RunResult:
    """The default branch moved: every open pull request into it is validated again, against it,
    newest first (a newer validation of one pull request replaces its older queued one)."""
    pulls = ctx.vcs.open_pulls(event.repo, event.branch)
    for raw in pulls:
        pull = pull_request_from_api(raw, "revalidate")
        ctx.ledger.enqueue("validate", pull.key, {**to_dict(pull), "installation": ctx.installation})
    return RunResult(
        "done", f"{len(pulls)} open pull requests queued for validation against {event.branch} {event.sha[:7]}"
    )


def validate_merge_group(event: MergeGroupEvent, ctx: JobContext) -> RunResult:
    """A merge queue's commit is exactly what will land: validate it against its base (lint,
    compatibility, acceptance; its pull requests' ownership was judged when they were reviewed)."""
    config = ctx.config
    ctx.status(event.repo, event.head_sha, VALIDATE_CONTEXT, "pending", "DataSurface is validating the merge group")
    mirror = ModelMirror(config.work_dir, event.repo)
    repo = mirror.fetch(ctx.vcs.clone_url(event.clone_url))
    if not ModelMirror.has_commit(repo, event.head_sha):
        repo.git.fetch(ctx.vcs.clone_url(event.clone_url), event.head_sha)
    against = f"{event.base_branch} {event.base_sha[:7]}"
    with tempfile.TemporaryDirectory(prefix="datasurface-group-") as tmp:
        base = mirror.export(repo, event.base_sha, Path(tmp) / "base")
        head = mirror.export(repo, event.head_sha, Path(tmp) / "head")
        source = ChangeSource("merge queue", event.head_ref)
        result = validate(base, head, source, [], config.sandbox_limits(), check_ownership=False)
    if result.head is not None:
        tree = repo.commit(event.head_sha).tree.hexsha
        ctx.ledger.record_validation(event.repo, tree, result.head.canonical_hash(), result.verdict, 0, event.head_sha)
    errors = [f for f in result.findings if f.is_error]
    if result.verdict == "pass":
        ctx.status(event.repo, event.head_sha, VALIDATE_CONTEXT, "success", f"May land on {against}")
    else:
        first = f"{errors[0].rule} at {errors[0].path}"
        ctx.status(
            event.repo,
            event.head_sha,
            VALIDATE_CONTEXT,
            "failure",
            f"{len(errors)} errors against {against}: {first}"[:140],
        )
    return RunResult("done", f"merge group {result.verdict} against {against}", to_markdown(result, against=against))


WRITE_ROLES = frozenset({"admin", "maintain", "write"})
PLAN_MARKER = "<!-- datasurface:plan -->"


def run_command(event: CommandEvent, ctx: JobContext) -> RunResult:
    """``/datasurface validate`` runs the validation again now; ``/datasurface plan`` posts the
    merge preview alone. Only people who may write to the repository can ask; the comment gets a
    reaction when it is taken."""
    try:
        role = ctx.vcs.permission(event.repo, event.author)
    except GithubException as exc:
        if exc.status != 404:
            raise
        role = "none"
    if role not in WRITE_ROLES:
        return RunResult("done", f"ignored /datasurface {event.command} from {event.author} ({role} access)")
    ctx.vcs.react(event.repo, event.number, event.comment_id, "eyes")
    pull = pull_request_from_api(ctx.vcs.pull(event.repo, event.number), "command")
    if event.command == "validate":
        return validate_pull_request(pull, dataclasses.replace(ctx, attempt=1))
    return _plan(pull, ctx)


def _plan(event: PullRequestEvent, ctx: JobContext) -> RunResult:
    mirror = ModelMirror(ctx.config.work_dir, event.repo)
    repo = mirror.fetch(ctx.vcs.clone_url(event.clone_url))
    if not ModelMirror.has_commit(repo, event.head_sha) and event.head_repo:
        repo.git.fetch(ctx.vcs.clone_url(event.head_clone_url), event.head_sha)
    base_sha = ModelMirror.branch_head(repo, event.base_branch) or event.base_sha
    merged = ModelMirror.merge_result(repo, base_sha, event.head_sha)
    against = f"{event.base_branch} {base_sha[:7]}"
    if merged is None:
        body = f"### DataSurface merge preview\n\nThis branch conflicts with {against}: there is nothing to preview.\n"
    else:
        with tempfile.TemporaryDirectory(prefix="datasurface-plan-") as tmp:
            base = load_model(mirror.export(repo, base_sha, Path(tmp) / "base"), ctx.config.sandbox_limits())
            head = load_model(mirror.export(repo, merged, Path(tmp) / "head"), ctx.config.sandbox_limits())
        if head.ecosystem is None:
            body = "### DataSurface merge preview\n\nThe merged model does not load: see the validation comment.\n"
        else:
            body = preview_markdown(
                preview(base.ecosystem, head.ecosystem), f"### DataSurface merge preview ({against})"
            )
    ctx.vcs.upsert_comment(event.repo, event.number, body, PLAN_MARKER)
    return RunResult("done", f"posted the merge preview against {against}", body)
