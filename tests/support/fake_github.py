"""A small local HTTP server that answers the GitHub REST endpoints the service uses, as GitHub
does (status codes, JSON shapes, URLs), and records every request."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class FakeGitHub:
    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    pr_files: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    fail_next: int = 0  # answer this many requests with 502, as GitHub does in a bad minute
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    app_slug: str = "datasurface"

    def login_of(self, authorization: str | None) -> str:
        """Whose request it is: a personal token's user, or an app installation's bot account."""
        token = (authorization or "").split()[-1] if authorization else ""
        if token.startswith("ghs_installation_"):
            return f"{self.app_slug}[bot]"
        return {"test-token": "datasurface-bot"}.get(token, f"user-of-{token[:8]}")

    def add_comment(self, repo: str, number: int, body: str, login: str) -> dict[str, Any]:
        """A comment written by someone else (a person, another bot)."""
        entry = {"id": next(self.ids), "body": body, "user": {"login": login, "id": 7}, "url": "", "created_at": ""}
        with self.lock:
            self.comments.setdefault((repo, number), []).append(entry)
        return entry

    def statuses_for(self, sha: str, context: str) -> list[dict[str, Any]]:
        return [s for s in self.statuses if s["sha"] == sha and s["context"] == context]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next):  # type: ignore[no-untyped-def]
            body = await request.body()
            import json

            with self.lock:
                self.requests.append(
                    Recorded(
                        request.method,
                        request.url.path,
                        json.loads(body) if body else None,
                        request.headers.get("authorization"),
                    )
                )
                failing = self.fail_next > 0
                if failing:
                    self.fail_next -= 1
            if failing:
                return JSONResponse({"message": "Server Error"}, status_code=502)
            return await call_next(request)

        @app.post("/app/installations/{installation}/access_tokens", status_code=201)
        def installation_token(installation: int, request: Request) -> dict[str, Any]:
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                raise HTTPException(401, "A JSON web token could not be decoded")
            return {
                "token": f"ghs_installation_{installation}",
                "expires_at": "2099-01-01T00:00:00Z",
                "permissions": {},
            }

        def repo_url(owner: str, name: str) -> str:
            return f"{self.base_url}/repos/{owner}/{name}"

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

        @app.get("/repos/{owner}/{name}/commits/{sha}")
        def commit(owner: str, name: str, sha: str) -> dict[str, Any]:
            return {"sha": sha, "url": f"{repo_url(owner, name)}/commits/{sha}", "commit": {"message": ""}}

        @app.post("/repos/{owner}/{name}/statuses/{sha}", status_code=201)
        async def status(owner: str, name: str, sha: str, request: Request) -> dict[str, Any]:
            body = await request.json()
            if body.get("state") not in ("pending", "success", "failure", "error"):
                raise HTTPException(422, "Validation Failed")
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

        def issue_json(owner: str, name: str, number: int) -> dict[str, Any]:
            return {
                "number": number,
                "url": f"{repo_url(owner, name)}/issues/{number}",
                "comments_url": f"{repo_url(owner, name)}/issues/{number}/comments",
                "state": "open",
                "title": "PR",
            }

        @app.get("/repos/{owner}/{name}/issues/{number}")
        def issue(owner: str, name: str, number: int) -> dict[str, Any]:
            return issue_json(owner, name, number)

        @app.get("/repos/{owner}/{name}/issues/{number}/comments")
        def list_comments(owner: str, name: str, number: int) -> list[dict[str, Any]]:
            with self.lock:
                return list(self.comments.get((f"{owner}/{name}", number), []))

        @app.post("/repos/{owner}/{name}/issues/{number}/comments", status_code=201)
        async def create_comment(owner: str, name: str, number: int, request: Request) -> dict[str, Any]:
            body = await request.json()
            comment_id = next(self.ids)
            entry = {
                "id": comment_id,
                "body": body["body"],
                "user": {"login": self.login_of(request.headers.get("authorization")), "id": 1},
                "url": f"{repo_url(owner, name)}/issues/comments/{comment_id}",
                "created_at": "2026-11-25T00:00:00Z",
            }
            with self.lock:
                self.comments.setdefault((f"{owner}/{name}", number), []).append(entry)
            return entry

        @app.patch("/repos/{owner}/{name}/issues/comments/{comment_id}")
        async def edit_comment(owner: str, name: str, comment_id: int, request: Request) -> dict[str, Any]:
            body = await request.json()
            with self.lock:
                for comments in self.comments.values():
                    for entry in comments:
                        if entry["id"] == comment_id:
                            entry["body"] = body["body"]
                            return entry
            raise HTTPException(404, "Not Found")

        @app.get("/repos/{owner}/{name}/pulls/{number}")
        def pull(owner: str, name: str, number: int) -> dict[str, Any]:
            return {"number": number, "url": f"{repo_url(owner, name)}/pulls/{number}", "state": "open"}

        @app.get("/repos/{owner}/{name}/pulls/{number}/files")
        def pull_files(owner: str, name: str, number: int) -> list[dict[str, Any]]:
            files = self.pr_files.get((f"{owner}/{name}", number))
            if files is None:
                raise HTTPException(404, "Not Found")
            return [{"filename": f, "status": "modified", "sha": "0" * 40} for f in files]

        return app


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
