"""What every runner works with and returns: the job's context, its result, the commit-status
contexts, and the ledger of validated models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from handler.service.config import ServiceConfig
from handler.service.vcs import VcsClient

VALIDATE_CONTEXT = "datasurface/validate"
DEPLOY_CONTEXT = "datasurface/deploy"
ROLLOUT_CONTEXT = "datasurface/rollout"
#: The change source of a pull request whose fork was deleted: it owns nothing.
DELETED_FORK = "(deleted fork)"


@dataclass(frozen=True)
class RunResult:
    status: str  # done | failed
    summary: str
    report: str | None = None  # Markdown shown on the job's page


class JobStore(Protocol):
    """The job queue as runners see it: the ledger of validated models, and more work to queue."""

    def record_validation(
        self, repo: str, tree: str, model_hash: str, verdict: str, pull_request: int, sha: str
    ) -> None: ...

    def validated_hashes(self, repo: str, tree: str) -> set[str]: ...

    def enqueue(self, kind: str, key: str, payload: dict[str, Any], *, not_before: float | None = None) -> None: ...


@dataclass(frozen=True)
class JobContext:
    """What a runner works with: the configuration, the VCS client, a metrics hook, the ledger,
    the address of the job's page on this service (each status links to it), and which attempt
    this is (only the first says "pending")."""

    config: ServiceConfig
    vcs: VcsClient
    observe: Callable[[str, float], None]
    ledger: JobStore
    target_url: str | None = None
    attempt: int = 1
    installation: int | None = None  # the GitHub App installation the job's event came from

    def status(self, repo: str, sha: str, context: str, state: str, description: str) -> None:
        if state == "pending" and self.attempt > 1:
            return  # already pending since the first attempt
        self.vcs.set_status(repo, sha, context, state, description, self.target_url)
