"""A local stand-in for the GitHub REST API, written from GitHub's documentation, over real git
repositories: what the service uses, answered as GitHub answers it.

- pagination: ``per_page`` (default 30, at most 100), ``page``, and ``Link`` headers;
- pull requests backed by the repositories: ``refs/pull/N/head`` and ``refs/pull/N/merge``
  created as GitHub does (the merge recomputed when the base moves), forks, the files of a pull
  request computed from its diff and listed up to GitHub's documented 3,000;
- validation as GitHub does it: 422 for an invalid status (state, description over 140
  characters) or comment (empty, over 65,536 characters); 404 for unknown repositories and pulls;
- who is asking (tokens, app installations), comment authors, reactions, collaborator permissions;
- injectable faults: 502s, writes refused with 403 and ``Retry-After`` (a secondary rate limit),
  and writes that succeed but whose reply is lost.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

FILES_LIMIT = 3000  # "Responses include a maximum of 3000 files."
STATUS_STATES = ("error", "failure", "pending", "success")


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class Pull:
    repo: str
    number: int
    head_ref: str
    base_ref: str
    head_repo: str | None  # None: the fork was deleted
    head_bare: Path  # the repository the head branch lives in (the base's, or a fork's)
    user: str = "dev"
    state: str = "open"
    merged_sha: str | None = None


@dataclass
class Fault:
    """What the stand-in does to the next matching requests."""

    kind: str  # "502" | "rate-limit" (403 + Retry-After) | "lost" (done, but the reply is a 502)
    method: str = "POST"
    path: str = ""  # a substring of the path; "" matches every path
    count: int = 1
    retry_after: int = 1


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "GitHub",
            "GIT_AUTHOR_EMAIL": "noreply@github.com",
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
            "PATH": "/usr/bin:/bin",
        },
    ).stdout.strip()


@dataclass
class FakeGitHub:
    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    repos: dict[str, Path] = field(default_factory=dict)  # full name -> bare repository
    pulls: dict[tuple[str, int], Pull] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)  # login -> admin | maintain | write | triage | read
    faults: list[Fault] = field(default_factory=list)
    refuse_writes_until: float = 0.0  # secondary rate limit: every write refused with 403 until then
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    app_slug: str = "datasurface"

    # --- what tests arrange ---------------------------------------------------------------------

    def add_repo(self, full_name: str, bare: Path) -> None:
        self.repos[full_name] = bare

    def open_pull(
        self, repo: str, number: int, head_ref: str, base_ref: str = "main", fork: tuple[str, Path] | None = None
    ) -> Pull:
        """A pull request, with the refs GitHub creates in the base repository."""
        pull = Pull(repo, number, head_ref, base_ref, fork[0] if fork else repo, fork[1] if fork else self.repos[repo])
        self.pulls[(repo, number)] = pull
        self.update_refs(repo)
        return pull

    def update_refs(self, repo: str) -> None:
        """``refs/pull/N/head`` and ``refs/pull/N/merge`` of every open pull request, as GitHub recomputes them."""
        bare = self.repos[repo]
        for pull in [p for p in self.pulls.values() if p.repo == repo and p.state == "open"]:
            if pull.head_bare != bare:  # a fork: GitHub copies its head into the base repository
                _git(
                    bare,
                    "fetch",
                    "-q",
                    str(pull.head_bare),
                    f"+refs/heads/{pull.head_ref}:refs/pull/{pull.number}/head",
                )
            else:
                _git(bare, "update-ref", f"refs/pull/{pull.number}/head", f"refs/heads/{pull.head_ref}")
            head, base = self.head_sha(pull), _git(bare, "rev-parse", f"refs/heads/{pull.base_ref}")
            try:
                tree = _git(bare, "merge-tree", "--write-tree", base, head).splitlines()[0]
            except subprocess.CalledProcessError:  # conflicts: GitHub offers no merge ref
                subprocess.run(
                    ["git", "--git-dir", str(bare), "update-ref", "-d", f"refs/pull/{pull.number}/merge"], check=False
                )
                continue
            merge = _git(bare, "commit-tree", tree, "-p", base, "-p", head, "-m", f"Merge {head} into {base}")
            _git(bare, "update-ref", f"refs/pull/{pull.number}/merge", merge)

    def head_sha(self, pull: Pull) -> str:
        return _git(self.repos[pull.repo], "rev-parse", f"refs/pull/{pull.number}/head")

    def mark_merged(self, repo: str, number: int, merge_sha: str) -> None:
        pull = self.pulls[(repo, number)]
        pull.state, pull.merged_sha = "closed", merge_sha

    def login_of(self, authorization: str | None) -> str:
        """Whose request it is: a personal token's user, or an app installation's bot account."""
        token = (authorization or "").split()[-1] if authorization else ""
        if token.startswith("ghs_installation_"):
            return f"{self.app_slug}[bot]"
        return {"test-token": "datasurface-bot"}.get(token, f"user-of-{token[:8]}")

    def add_comment(self, repo: str, number: int, body: str, login: str) -> dict[str, Any]:
        """A comment written by someone else (a person, another bot)."""
        entry = {
            "id": next(self.ids),
            "body": body,
            "user": {"login": login, "id": 7, "type": "User"},
            "url": "",
            "created_at": "2026-11-25T00:00:00Z",
        }
        with self.lock:
            self.comments.setdefault((repo, number), []).append(entry)
        return entry

    def statuses_for(self, sha: str, context: str) -> list[dict[str, Any]]:
        return [s for s in self.statuses if s["sha"] == sha and s["context"] == context]

    # --- the API --------------------------------------------------------------------------------

    def app(self) -> FastAPI:  # noqa: PLR0915 - one route per endpoint, as the API documents them
        app = FastAPI()

        @app.middleware("http")
        async def record_and_inject(request: Request, call_next):  # type: ignore[no-untyped-def]
            body = await request.body()
            with self.lock:
                self.requests.append(
                    Recorded(
                        request.method,
                        request.url.path,
                        json.loads(body) if body else None,
                        request.headers.get("authorization"),
                    )
                )
                fault = self._take_fault(request.method, request.url.path)
                refused = (
                    request.method in ("POST", "PATCH", "PUT", "DELETE") and time.time() < self.refuse_writes_until
                )
            if refused:
                wait = max(1, int(self.refuse_writes_until - time.time() + 0.999))
                return _secondary_rate_limit(wait)
            if fault is not None and fault.kind == "rate-limit":
                return _secondary_rate_limit(fault.retry_after)
            if fault is not None and fault.kind == "502":
                return JSONResponse({"message": "Server Error"}, status_code=502)
            response = await call_next(request)
            if fault is not None and fault.kind == "lost":  # done, but the client never hears it
                return JSONResponse({"message": "Server Error"}, status_code=502)
            return response

        def repo_url(owner: str, name: str) -> str:
            return f"{self.base_url}/repos/{owner}/{name}"

        def known_repo(owner: str, name: str) -> Path:
            bare = self.repos.get(f"{owner}/{name}")
            if bare is None:
                raise HTTPException(404, "Not Found")
            return bare

        def known_pull(owner: str, name: str, number: int) -> Pull:
            known_repo(owner, name)
            pull = self.pulls.get((f"{owner}/{name}", number))
            if pull is None:
                raise HTTPException(404, "Not Found")
            return pull

        def pull_json(pull: Pull) -> dict[str, Any]:
            owner, name = pull.repo.split("/")
            bare = self.repos[pull.repo]
            head_repo = None
            if pull.head_repo is not None:
                head_repo = {
                    "full_name": pull.head_repo,
                    "clone_url": str(pull.head_bare),
                    "fork": pull.head_bare != bare,
                }
            return {
                "url": f"{repo_url(owner, name)}/pulls/{pull.number}",
                "html_url": f"https://github.com/{pull.repo}/pull/{pull.number}",
                "number": pull.number,
                "state": pull.state,
                "merged": pull.merged_sha is not None,
                "merge_commit_sha": pull.merged_sha,
                "title": f"PR {pull.number}",
                "user": {"login": pull.user, "id": 3},
                "head": {"ref": pull.head_ref, "sha": self.head_sha(pull), "repo": head_repo},
                "base": {
                    "ref": pull.base_ref,
                    "sha": _git(bare, "rev-parse", f"refs/heads/{pull.base_ref}"),
                    "repo": {"full_name": pull.repo, "clone_url": str(bare)},
                },
            }

        @app.post("/app/installations/{installation}/access_tokens", status_code=201)
        def installation_token(installation: int, request: Request) -> dict[str, Any]:
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                raise HTTPException(401, "A JSON web token could not be decoded")
            return {
                "token": f"ghs_installation_{installation}",
                "expires_at": "2099-01-01T00:00:00Z",
                "permissions": {},
            }

        @app.get("/user")
        def user(request: Request) -> dict[str, Any]:
            token = request.headers.get("authorization") or ""
            if token.startswith("token ghs_"):  # GitHub: installation tokens cannot read /user
                raise HTTPException(403, "Resource not accessible by integration")
            return {"login": self.login_of(token), "id": 1, "type": "User"}

        @app.get("/app")
        def github_app(request: Request) -> dict[str, Any]:
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                raise HTTPException(401, "A JSON web token could not be decoded")
            return {"id": 1234, "slug": self.app_slug, "name": "DataSurface"}

        @app.get("/repos/{owner}/{name}")
        def repository(owner: str, name: str) -> dict[str, Any]:
            bare = known_repo(owner, name)
            return {
                "full_name": f"{owner}/{name}",
                "name": name,
                "owner": {"login": owner},
                "default_branch": "main",
                "clone_url": str(bare),
                "url": repo_url(owner, name),
            }

        @app.get("/repos/{owner}/{name}/commits/{sha}")
        def commit(owner: str, name: str, sha: str) -> dict[str, Any]:
            return {"sha": sha, "url": f"{repo_url(owner, name)}/commits/{sha}", "commit": {"message": ""}}

        @app.get("/repos/{owner}/{name}/commits/{sha}/pulls")
        def commit_pulls(owner: str, name: str, sha: str, request: Request) -> Response:
            known_repo(owner, name)
            found = [
                pull_json(p)
                for p in self.pulls.values()
                if p.repo == f"{owner}/{name}" and sha in (p.merged_sha, self.head_sha(p))
            ]
            return paginated(request, found)

        @app.post("/repos/{owner}/{name}/statuses/{sha}", status_code=201)
        async def status(owner: str, name: str, sha: str, request: Request) -> dict[str, Any]:
            known_repo(owner, name)
            body = await request.json()
            if body.get("state") not in STATUS_STATES:
                raise HTTPException(422, "Validation Failed: state is not included in the list")
            if len(body.get("description") or "") > 140:
                raise HTTPException(422, "Validation Failed: description is too long (maximum is 140 characters)")
            entry = {
                "id": next(self.ids),
                "repo": f"{owner}/{name}",
                "sha": sha,
                **body,
                "created_at": time.time(),
                "url": f"{repo_url(owner, name)}/statuses/{sha}",
            }
            with self.lock:
                self.statuses.append(entry)
            return entry

        @app.get("/repos/{owner}/{name}/issues/{number}")
        def issue(owner: str, name: str, number: int) -> dict[str, Any]:
            return {
                "number": number,
                "url": f"{repo_url(owner, name)}/issues/{number}",
                "comments_url": f"{repo_url(owner, name)}/issues/{number}/comments",
                "state": "open",
                "title": "PR",
            }

        @app.get("/repos/{owner}/{name}/issues/{number}/comments")
        def list_comments(owner: str, name: str, number: int, request: Request) -> Response:
            with self.lock:
                return paginated(request, list(self.comments.get((f"{owner}/{name}", number), [])))

        @app.post("/repos/{owner}/{name}/issues/{number}/comments", status_code=201)
        async def create_comment(owner: str, name: str, number: int, request: Request) -> dict[str, Any]:
            body = _comment_body(await request.json())
            comment_id = next(self.ids)
            entry = {
                "id": comment_id,
                "body": body,
                "user": {"login": self.login_of(request.headers.get("authorization")), "id": 1, "type": "Bot"},
                "url": f"{repo_url(owner, name)}/issues/comments/{comment_id}",
                "created_at": "2026-11-25T00:00:00Z",
            }
            with self.lock:
                self.comments.setdefault((f"{owner}/{name}", number), []).append(entry)
            return entry

        @app.patch("/repos/{owner}/{name}/issues/comments/{comment_id}")
        async def edit_comment(owner: str, name: str, comment_id: int, request: Request) -> dict[str, Any]:
            body = _comment_body(await request.json())
            with self.lock:
                for comments in self.comments.values():
                    for entry in comments:
                        if entry["id"] == comment_id:
                            entry["body"] = body
                            return entry
            raise HTTPException(404, "Not Found")

        @app.post("/repos/{owner}/{name}/issues/comments/{comment_id}/reactions", status_code=201)
        async def react(owner: str, name: str, comment_id: int, request: Request) -> dict[str, Any]:
            content = (await request.json()).get("content")
            if content not in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"):
                raise HTTPException(422, "Validation Failed")
            entry = {
                "id": next(self.ids),
                "comment_id": comment_id,
                "content": content,
                "user": {"login": self.login_of(request.headers.get("authorization"))},
            }
            with self.lock:
                self.reactions.append(entry)
            return entry

        @app.get("/repos/{owner}/{name}/collaborators/{login}/permission")
        def permission(owner: str, name: str, login: str) -> dict[str, Any]:
            known_repo(owner, name)
            level = self.permissions.get(login, "read")
            legacy = {"maintain": "write", "triage": "read"}.get(level, level)
            return {"permission": legacy, "role_name": level, "user": {"login": login}}

        @app.get("/repos/{owner}/{name}/pulls")
        def list_pulls(owner: str, name: str, request: Request) -> Response:
            known_repo(owner, name)
            state = request.query_params.get("state", "open")
            base = request.query_params.get("base")
            found = sorted(
                (
                    p
                    for p in self.pulls.values()
                    if p.repo == f"{owner}/{name}"
                    and state in ("all", p.state)
                    and (base is None or p.base_ref == base)
                ),
                key=lambda p: -p.number,  # newest first, as GitHub's default sort (created, desc)
            )
            return paginated(request, [pull_json(p) for p in found])

        @app.get("/repos/{owner}/{name}/pulls/{number}")
        def pull(owner: str, name: str, number: int) -> dict[str, Any]:
            return pull_json(known_pull(owner, name, number))

        @app.get("/repos/{owner}/{name}/pulls/{number}/files")
        def pull_files(owner: str, name: str, number: int, request: Request) -> Response:
            found = known_pull(owner, name, number)
            bare = self.repos[found.repo]
            base = _git(bare, "rev-parse", f"refs/heads/{found.base_ref}")
            diff = _git(bare, "diff", "--name-status", "--no-renames", f"{base}...refs/pull/{number}/head").splitlines()
            files = [
                {
                    "filename": line.split("\t", 1)[1],
                    "status": {"A": "added", "D": "removed"}.get(line[0], "modified"),
                    "sha": "0" * 40,
                }
                for line in diff
            ]
            return paginated(request, files[:FILES_LIMIT])

        def paginated(request: Request, items: list[Any]) -> Response:
            try:
                per_page = min(100, max(1, int(request.query_params.get("per_page", 30))))
                page = max(1, int(request.query_params.get("page", 1)))
            except ValueError:
                raise HTTPException(422, "Validation Failed") from None
            last = max(1, -(-len(items) // per_page))
            links = []
            for rel, target in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
                if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                    query = urlencode({**request.query_params, "per_page": per_page, "page": target})
                    links.append(f'<{self.base_url}{request.url.path}?{query}>; rel="{rel}"')
            chunk = items[(page - 1) * per_page : page * per_page]
            return JSONResponse(chunk, headers={"Link": ", ".join(links)} if links else {})

        return app

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and fault.method == method and fault.path in path:
                fault.count -= 1
                return fault
        return None


def _comment_body(data: dict[str, Any]) -> str:
    body = data.get("body")
    if not isinstance(body, str) or not body:
        raise HTTPException(422, "Validation Failed: body is missing")
    if len(body) > 65536:
        raise HTTPException(422, "Validation Failed: body is too long (maximum is 65536 characters)")
    return body


def _secondary_rate_limit(wait: int) -> JSONResponse:
    return JSONResponse(
        {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        },
        status_code=403,
        headers={"Retry-After": str(wait)},
    )


class ServerThread:
    """Run an ASGI app with uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
