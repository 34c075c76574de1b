"""The validation runner: judge a pull request merged into its base as the base is now, then
keep one sticky comment and the ``datasurface/validate`` status up to date. Thin: the work is in
``handler.validation``; this fetches, calls and reports."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from handler.findings import Severity
from handler.gitrepo import ModelMirror
from handler.reports.validation_report import to_markdown
from handler.service.events import PullRequestEvent
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
