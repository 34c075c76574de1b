"""Parse GitHub webhook deliveries into the few events the service acts on.

Signed payloads are still decoded as untrusted data: into typed structures of exactly the fields
the service uses (msgspec), each checked (repository names, SHAs, numbers, URLs), so a wrong
type or value anywhere is a ``PayloadError`` naming the field (the intake answers 400) and
nothing unchecked reaches a git command line or an API URL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

import msgspec

PR_ACTIONS = {"opened", "synchronize", "reopened"}
#: The event names the service knows; metrics label any other as "other".
KNOWN_EVENTS = frozenset(
    {
        "ping",
        "push",
        "pull_request",
        "issue_comment",
        "check_run",
        "check_suite",
        "merge_group",
        "installation",
        "installation_repositories",
        "pull_request_review",
        "status",
    }
)

Sha = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{40}$")]
RepoName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")]
GitRef = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f ~^:?*\[\\]+$")]
# Clone URLs go to `git fetch`: a scheme git knows or an absolute path, never anything that reads as an option.
CloneUrl = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^(https?://|file://|/)[^\x00-\x20]*$")]
Number = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class PayloadError(ValueError):
    """A signed payload that does not have the fields the service uses, with the right types."""


class _Repository(msgspec.Struct):
    full_name: RepoName
    clone_url: CloneUrl
    default_branch: GitRef | None = None
    master_branch: GitRef | None = None


class _Installation(msgspec.Struct):
    id: Number


class _HeadRepository(msgspec.Struct):
    full_name: RepoName
    clone_url: CloneUrl


class _Head(msgspec.Struct):
    ref: GitRef
    sha: Sha
    repo: _HeadRepository | None = None  # null when the fork was deleted


class _Base(msgspec.Struct):
    ref: GitRef
    sha: Sha


class _PullRequest(msgspec.Struct):
    head: _Head
    base: _Base


class _PullRequestPayload(msgspec.Struct):
    action: Annotated[str, msgspec.Meta(max_length=100)]
    number: Number
    pull_request: _PullRequest
    repository: _Repository
    installation: _Installation | None = None


class _PushPayload(msgspec.Struct):
    ref: GitRef
    after: Sha
    repository: _Repository
    deleted: bool = False
    installation: _Installation | None = None


class _RepositoryName(msgspec.Struct):
    full_name: str = ""


class _MergeGroup(msgspec.Struct):
    head_sha: Sha
    head_ref: GitRef
    base_sha: Sha
    base_ref: GitRef


class _MergeGroupPayload(msgspec.Struct):
    action: Annotated[str, msgspec.Meta(max_length=100)]
    merge_group: _MergeGroup
    repository: _Repository


class _User(msgspec.Struct):
    login: Annotated[str, msgspec.Meta(max_length=100)]
    type: str = "User"


class _Comment(msgspec.Struct):
    id: Number
    body: Annotated[str, msgspec.Meta(max_length=65536)]
    user: _User


class _IssuePullRequest(msgspec.Struct):
    url: str = ""


class _Issue(msgspec.Struct):
    number: Number
    pull_request: _IssuePullRequest | None = None  # present when the issue is a pull request


class _IssueCommentPayload(msgspec.Struct):
    action: Annotated[str, msgspec.Meta(max_length=100)]
    issue: _Issue
    comment: _Comment
    repository: _Repository


class _AnyPayload(msgspec.Struct):
    """What every delivery is checked for before its event is parsed: which repository it is about."""

    repository: _RepositoryName | None = None


class _InstallationOnly(msgspec.Struct):
    installation: _Installation | None = None


@dataclass(frozen=True)
class PullRequestEvent:
    repo: str  # owner/name of the model repository (the base)
    number: int
    action: str
    head_repo: str  # "" when the fork was deleted
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
class MergeGroupEvent:
    """A merge queue asks for checks on exactly the commit that will land."""

    repo: str
    head_sha: str
    head_ref: str
    base_sha: str
    base_branch: str
    clone_url: str

    @property
    def key(self) -> str:
        return f"merge-group:{self.repo}@{self.head_ref}"


@dataclass(frozen=True)
class CommandEvent:
    """``/datasurface validate`` or ``/datasurface plan`` in a pull request's comment."""

    repo: str
    number: int
    command: str  # validate | plan
    comment_id: int
    author: str
    clone_url: str

    @property
    def key(self) -> str:
        return f"pr:{self.repo}#{self.number}"


@dataclass(frozen=True)
class RevalidateEvent:
    """The default branch moved: the open pull requests' verdicts are stale."""

    repo: str
    branch: str
    sha: str
    clone_url: str

    @property
    def key(self) -> str:
        return f"revalidate:{self.repo}"


@dataclass(frozen=True)
class Ignored:
    reason: str


Event = PullRequestEvent | PushEvent | MergeGroupEvent | CommandEvent | Ignored
JobEvent = PullRequestEvent | PushEvent | MergeGroupEvent | CommandEvent | RevalidateEvent
COMMANDS = ("validate", "plan")


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"invalid payload: {exc}") from None
    except msgspec.DecodeError as exc:
        raise PayloadError(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise PayloadError("the body is nested too deeply") from None


def repository_of(body: bytes) -> str:
    """The ``repository.full_name`` a delivery is about ("" when none); raises PayloadError."""
    payload = _decode(body, _AnyPayload)
    return payload.repository.full_name if payload.repository else ""


def installation_of(body: bytes) -> int | None:
    payload = _decode(body, _InstallationOnly)
    return payload.installation.id if payload.installation else None


def parse(event_name: str, body: bytes) -> Event:
    """The event a delivery means, or why it is ignored. Raises PayloadError on a malformed payload."""
    if event_name == "ping":
        return Ignored("ping")
    if event_name == "pull_request":
        return _pull_request(_decode(body, _PullRequestPayload))
    if event_name == "push":
        return _push(_decode(body, _PushPayload))
    if event_name == "merge_group":
        return _merge_group(_decode(body, _MergeGroupPayload))
    if event_name == "issue_comment":
        return _command(_decode(body, _IssueCommentPayload))
    return Ignored(f"event {event_name[:100]!r} is not handled")


class _ApiBase(msgspec.Struct):
    ref: GitRef
    sha: Sha
    repo: _Repository


class _ApiPull(msgspec.Struct):
    number: Number
    head: _Head
    base: _ApiBase


def pull_request_from_api(raw: dict[str, Any], action: str) -> PullRequestEvent:
    """A pull request as the REST API returns it (re-validations, commands), checked like a payload."""
    try:
        pull = msgspec.convert(raw, _ApiPull)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"GitHub returned a pull request of an unexpected shape: {exc}") from None
    payload = _PullRequestPayload(
        action=action,
        number=pull.number,
        pull_request=_PullRequest(head=pull.head, base=_Base(pull.base.ref, pull.base.sha)),
        repository=pull.base.repo,
    )
    event = _pull_request(payload, validate_any_action=True)
    if not isinstance(event, PullRequestEvent):
        raise PayloadError("not a pull request")
    return event


def _merge_group(payload: _MergeGroupPayload) -> Event:
    if payload.action != "checks_requested":
        return Ignored(f"merge_group action {payload.action!r} is not validated")
    group = payload.merge_group
    return MergeGroupEvent(
        repo=payload.repository.full_name,
        head_sha=group.head_sha,
        head_ref=group.head_ref,
        base_sha=group.base_sha,
        base_branch=group.base_ref.removeprefix("refs/heads/"),
        clone_url=payload.repository.clone_url,
    )


def _command(payload: _IssueCommentPayload) -> Event:
    words = payload.comment.body.strip().split()
    if payload.action != "created" or payload.issue.pull_request is None:
        return Ignored("not a new comment on a pull request")
    if len(words) < 2 or words[0] != "/datasurface" or words[1] not in COMMANDS:
        return Ignored("not a DataSurface command")
    if payload.comment.user.type == "Bot":
        return Ignored("commands from bots are ignored")
    return CommandEvent(
        repo=payload.repository.full_name,
        number=payload.issue.number,
        command=words[1],
        comment_id=payload.comment.id,
        author=payload.comment.user.login,
        clone_url=payload.repository.clone_url,
    )


def _pull_request(payload: _PullRequestPayload, validate_any_action: bool = False) -> Event:
    if payload.action not in PR_ACTIONS and not validate_any_action:
        return Ignored(f"pull_request action {payload.action!r} is not validated")
    head, base, repository = payload.pull_request.head, payload.pull_request.base, payload.repository
    return PullRequestEvent(
        repo=repository.full_name,
        number=payload.number,
        action=payload.action,
        head_repo=head.repo.full_name if head.repo else "",
        head_branch=head.ref,
        head_sha=head.sha,
        head_clone_url=head.repo.clone_url if head.repo else repository.clone_url,
        base_branch=base.ref,
        base_sha=base.sha,
        clone_url=repository.clone_url,
    )


def _push(payload: _PushPayload) -> Event:
    repository = payload.repository
    default = repository.default_branch or repository.master_branch or "main"
    if payload.deleted:
        return Ignored(f"push deleting {payload.ref}")
    if payload.ref != f"refs/heads/{default}":
        return Ignored(f"push to {payload.ref}, not to the default branch {default}")
    return PushEvent(repo=repository.full_name, branch=default, sha=payload.after, clone_url=repository.clone_url)


def event_label(event_name: str) -> str:
    """The metrics label of an event name: known names as they are, anything else ``other``."""
    return event_name if event_name in KNOWN_EVENTS else "other"


_JOB_EVENTS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (PullRequestEvent, PushEvent, MergeGroupEvent, CommandEvent, RevalidateEvent)
}


def to_dict(event: JobEvent) -> dict[str, Any]:
    return {"type": type(event).__name__, **asdict(event)}


def from_dict(data: dict[str, Any]) -> JobEvent:
    fields = dict(data)
    event: JobEvent = _JOB_EVENTS[fields.pop("type")](**fields)
    return event
