"""Parse GitHub webhook deliveries into the few events the service acts on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PR_ACTIONS = {"opened", "synchronize", "reopened"}


@dataclass(frozen=True)
class PullRequestEvent:
    repo: str  # owner/name of the model repository (the base)
    number: int
    action: str
    head_repo: str
    head_branch: str
    head_sha: str
    head_clone_url: str
    base_branch: str
    base_sha: str
    clone_url: str

    @property
    def key(self) -> str:
        return f"pr:{self.repo}#{self.number}"


@dataclass(frozen=True)
class PushEvent:
    repo: str
    branch: str
    sha: str
    clone_url: str

    @property
    def key(self) -> str:
        return f"deploy:{self.repo}"


@dataclass(frozen=True)
class Ignored:
    reason: str


Event = PullRequestEvent | PushEvent | Ignored


def parse(event_name: str, payload: dict[str, Any]) -> Event:
    """The event a delivery means, or why it is ignored. Raises KeyError/TypeError on a malformed payload."""
    if event_name == "ping":
        return Ignored("ping")
    if event_name == "pull_request":
        action = payload["action"]
        if action not in PR_ACTIONS:
            return Ignored(f"pull_request action {action!r} is not validated")
        pr = payload["pull_request"]
        head, base = pr["head"], pr["base"]
        head_repo = head.get("repo") or {}
        return PullRequestEvent(
            repo=payload["repository"]["full_name"],
            number=int(payload["number"]),
            action=action,
            head_repo=head_repo.get("full_name", ""),
            head_branch=head["ref"],
            head_sha=head["sha"],
            head_clone_url=head_repo.get("clone_url", payload["repository"]["clone_url"]),
            base_branch=base["ref"],
            base_sha=base["sha"],
            clone_url=payload["repository"]["clone_url"],
        )
    if event_name == "push":
        repository = payload["repository"]
        default = repository.get("default_branch") or repository.get("master_branch") or "main"
        ref = payload["ref"]
        if payload.get("deleted"):
            return Ignored(f"push deleting {ref}")
        if ref != f"refs/heads/{default}":
            return Ignored(f"push to {ref}, not to the default branch {default}")
        return PushEvent(
            repo=repository["full_name"], branch=default, sha=payload["after"], clone_url=repository["clone_url"]
        )
    return Ignored(f"event {event_name!r} is not handled")


def repository_of(payload: dict[str, Any]) -> str:
    return str((payload.get("repository") or {}).get("full_name", ""))


def to_dict(event: PullRequestEvent | PushEvent) -> dict[str, Any]:
    return {"type": type(event).__name__, **asdict(event)}


def from_dict(data: dict[str, Any]) -> PullRequestEvent | PushEvent:
    kind = data.pop("type")
    return PullRequestEvent(**data) if kind == "PullRequestEvent" else PushEvent(**data)
