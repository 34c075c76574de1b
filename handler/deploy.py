"""Deploying a model commit: load it, lint it, render it, and commit the tree to the deployment
repository, exactly once per model commit.

The one implementation behind the webhook service's deploy runner, ``datasurface deploy`` (the
GitHub Action) and the demo. A model commit already deployed is skipped; so is one older than
the deployed commit (the deployment never rolls back); a rejected push (someone else pushed)
is retried on top of the new head. The whole tree goes in one commit, so nothing partial is
ever pushed.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import git

from handler.findings import Finding
from handler.gitrepo import DeployRepo, ModelMirror
from handler.lint import lint
from handler.loading import SandboxLimits, load_model
from handler.render import RenderOptions, render_tree
from handler.render.templates import Templates
from handler.render.writer import write_tree

log = logging.getLogger("datasurface.deploy")
PUSH_ATTEMPTS = 5

#: Who deployment commits are by (the service's configuration may name its own bot account).
BOT_NAME = "datasurface-bot"
BOT_EMAIL = "datasurface-bot@users.noreply.github.com"

OutcomeKind = Literal["deployed", "already-deployed", "superseded", "rejected"]


@dataclass(frozen=True)
class DeployOutcome:
    kind: OutcomeKind
    deploy_commit: str  # the deployment branch's head afterwards ("" when rejected before any push)
    detail: str
    findings: tuple[Finding, ...] = ()  # why a rejected model was not deployed
    unsandboxed: str | None = None  # what of the sandbox was missing when the model ran (allowed explicitly)


class DeployError(Exception):
    """The deployment repository could not be updated (pushes kept being rejected)."""


def bot_author(name: str = BOT_NAME, email: str = BOT_EMAIL) -> git.Actor:
    return git.Actor(name, email)


def deploy_model_commit(
    model_dir: Path,
    model_git: git.Repo,
    model_repo: str,
    model_commit: str,
    deploy: DeployRepo,
    options: RenderOptions,
    *,
    author: git.Actor | None = None,
    templates: Templates | None = None,
    limits: SandboxLimits | None = None,
    validated_hashes: set[str] | None = None,
) -> DeployOutcome:
    """Deploy the model in ``model_dir`` (the tree of ``model_commit``) unless it has lint errors.

    ``model_git`` is a repository that knows ``model_commit`` and its history, to tell a newer
    commit from an older one. With ``validated_hashes``, the model evaluated now must be one of
    the models validation judged (by canonical hash): what deploys is what was validated.
    """
    loaded = load_model(model_dir, limits)
    findings = list(loaded.findings) + (lint(loaded.ecosystem) if loaded.ecosystem is not None else [])
    errors = tuple(f for f in findings if f.is_error)
    if loaded.ecosystem is None or errors:
        first = f"{errors[0].rule} at {errors[0].path}" if errors else "the model does not load"
        return DeployOutcome(
            "rejected", "", f"not deployed: {len(errors)} errors ({first})", errors, loaded.unsandboxed
        )
    if validated_hashes is not None and loaded.ecosystem.canonical_hash() not in validated_hashes:
        detail = (
            f"not deployed: the model of {model_commit[:12]} evaluated now is not the model that was validated "
            "(createEcosystem() returned something else this time)"
        )
        return DeployOutcome("rejected", "", detail, (), loaded.unsandboxed)
    options = dataclasses.replace(options, model_commit=model_commit, model_repo=options.model_repo or model_repo)
    tree = render_tree(loaded.ecosystem, options, templates)
    outcome = commit_deployment(tree, model_repo, model_commit, model_git, deploy, author or bot_author())
    return dataclasses.replace(outcome, unsandboxed=loaded.unsandboxed)


def commit_deployment(
    tree: dict[str, bytes],
    model_repo: str,
    model_commit: str,
    model_git: git.Repo,
    deploy: DeployRepo,
    author: git.Actor,
) -> DeployOutcome:
    """Write ``tree`` to the deployment branch as one commit with a ``Model-Commit`` trailer."""
    with deploy.locked():
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            repo = deploy.sync()
            deployed = DeployRepo.deployed_commits(repo)
            head = repo.head.commit.hexsha if repo.head.is_valid() else ""
            if model_commit in deployed:
                return DeployOutcome("already-deployed", head, f"{model_commit[:12]} is already deployed ({head[:12]})")
            if deployed and ModelMirror.is_ancestor(model_git, model_commit, deployed[0]):
                return DeployOutcome("superseded", head, f"newer {deployed[0][:12]} is deployed; not rolling back")
            write_tree(tree, deploy.path)
            message = deployment_message(model_repo, model_commit, model_git)
            pushed = deploy.commit_and_push(repo, message, author)
            if pushed is not None:
                return DeployOutcome("deployed", pushed, f"deployed {model_commit[:12]} as {pushed[:12]}")
            log.info("deployment push rejected, retrying on top of the new head", extra={"attempt": attempt})
    raise DeployError(f"the deployment push was rejected {PUSH_ATTEMPTS} times in a row")


def deployment_message(model_repo: str, model_commit: str, model_git: git.Repo) -> str:
    """The deployment commit's message: what it deploys, a ``Model-Commit`` trailer (how this
    service finds what is deployed), and Argo CD's reference-commit trailers, so that the Argo CD
    UI names the model commit that caused a sync."""
    commit = model_git.commit(model_commit)
    subject = str(commit.summary).replace("\n", " ")
    author = f"{commit.author.name} <{commit.author.email}>"
    return (
        f"Deploy model {model_repo}@{model_commit[:12]}\n\n"
        f"Rendered by DataSurface from {model_repo} commit {model_commit}: {subject}\n\n"
        f"Model-Commit: {model_commit}\n"
        f"Argocd-reference-commit-repourl: https://github.com/{model_repo}\n"
        f"Argocd-reference-commit-sha: {model_commit}\n"
        f"Argocd-reference-commit-author: {author}\n"
        f"Argocd-reference-commit-subject: {subject}\n"
        f"Argocd-reference-commit-date: {commit.authored_datetime.isoformat()}\n"
    )


def last_deployed_commit(deploy: DeployRepo) -> str | None:
    """The model commit the deployment branch holds now (its newest ``Model-Commit`` trailer)."""
    with deploy.locked():
        deployed = DeployRepo.deployed_commits(deploy.sync())
    return deployed[0] if deployed else None


def local_model_git(path: Path) -> git.Repo:
    return git.Repo(path, search_parent_directories=True)
