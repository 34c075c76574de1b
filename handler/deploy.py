"""Committing a rendered tree to the deployment repository, exactly once per model commit.

Used by the webhook service's deploy runner and by ``datasurface deploy`` (the GitHub Action).
A model commit already deployed is skipped; so is one older than the deployed commit (the
deployment never rolls back); a rejected push (someone else pushed) is retried on top of the
new head. The whole tree goes in one commit, so nothing partial is ever pushed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import git

from handler.render.writer import write_tree
from handler.gitrepo import DeployRepo, ModelMirror

log = logging.getLogger("datasurface.deploy")
PUSH_ATTEMPTS = 5


@dataclass(frozen=True)
class DeployOutcome:
    kind: str  # deployed | already-deployed | superseded
    deploy_commit: str
    detail: str


class DeployError(Exception):
    pass


def commit_deployment(
    tree: dict[str, bytes],
    model_repo: str,
    model_commit: str,
    model_git: git.Repo,
    deploy: DeployRepo,
    author: git.Actor,
) -> DeployOutcome:
    """Write ``tree`` to the deployment branch as one commit with a ``Model-Commit`` trailer."""
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        repo = deploy.sync()
        deployed = DeployRepo.deployed_commits(repo)
        head = repo.head.commit.hexsha if repo.head.is_valid() else ""
        if model_commit in deployed:
            return DeployOutcome("already-deployed", head, f"{model_commit[:12]} is already deployed ({head[:12]})")
        if deployed and ModelMirror.is_ancestor(model_git, model_commit, deployed[0]):
            return DeployOutcome("superseded", head, f"newer {deployed[0][:12]} is deployed; not rolling back")
        write_tree(tree, deploy.path)
        message = (
            f"Deploy model {model_repo}@{model_commit[:12]}\n\n"
            f"Rendered by DataSurface from {model_repo} commit {model_commit}.\n\n"
            f"Model-Commit: {model_commit}\n"
        )
        pushed = deploy.commit_and_push(repo, message, author)
        if pushed is not None:
            return DeployOutcome("deployed", pushed, f"deployed {model_commit[:12]} as {pushed[:12]}")
        log.info("deployment push rejected, retrying on top of the new head", extra={"attempt": attempt})
    raise DeployError(f"the deployment push was rejected {PUSH_ATTEMPTS} times in a row")


def local_model_git(path: Path) -> git.Repo:
    return git.Repo(path, search_parent_directories=True)
