"""Signed GitHub webhook deliveries, and the world a service test runs in (``Env``)."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from handler.service.config import ServiceConfig
from handler.service.signature import sign
from tests.support.fake_github import FakeGitHub
from tests.support.gitrepos import ModelRepo, git

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "github-webhooks"
REPO = "acme/datasurface-model"
SECRET = "test-webhook-secret"


def pr_payload(
    repo: ModelRepo, number: int, head_sha: str, base_sha: str, action: str = "opened", head_branch: str = "team1"
) -> dict[str, Any]:
    payload = json.loads((FIXTURES / f"pull_request.{action}.json").read_text())
    payload["number"] = number
    payload["repository"].update(full_name=REPO, clone_url=str(repo.bare), default_branch="main")
    pr = payload["pull_request"]
    pr["number"] = number
    pr["head"].update(ref=head_branch, sha=head_sha)
    pr["head"]["repo"].update(full_name=REPO, clone_url=str(repo.bare))
    pr["base"].update(ref="main", sha=base_sha)
    pr["base"]["repo"].update(full_name=REPO, clone_url=str(repo.bare))
    return payload


def push_payload(repo: ModelRepo, sha: str, before: str) -> dict[str, Any]:
    payload = json.loads((FIXTURES / "push.json").read_text())
    payload.update(ref="refs/heads/main", after=sha, before=before, created=False, deleted=False, base_ref=None)
    payload["repository"].update(full_name=REPO, clone_url=str(repo.bare), default_branch="main", master_branch="main")
    return payload


def deliver(
    base_url: str,
    event: str,
    payload: dict[str, Any],
    secret: str = SECRET,
    delivery: str | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret.encode(), body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }
    return (client or httpx).post(f"{base_url}/webhook", content=body, headers=headers, timeout=30)  # type: ignore[union-attr]


def wait_until(condition: Callable[[], bool], timeout: float = 90, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def merge_and_wait_for_deploy(env: Env, service: str, column: str = "nickname") -> str:
    """Merge a branch adding ``column`` to main, deliver the push, wait for a successful deploy;
    returns the merge commit."""
    from tests.support.gitrepos import add_column

    before = env.model.sha("main")
    env.model.branch("team1")
    env.model.change(add_column(column), f"add {column}")
    merged = env.model.merge_to_main("team1")
    deliver(service, "push", push_payload(env.model, merged, before))
    wait_until(
        lambda: any(s["state"] == "success" for s in env.github.statuses_for(merged, "datasurface/deploy")),
        what="deployed",
    )
    return merged


def copy_payload(payload: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(payload)


class Env:
    def __init__(self, root: Path, github: FakeGitHub, api_url: str) -> None:
        self.root, self.github, self.api_url = root, github, api_url
        self.model = ModelRepo(root)
        github.add_repo(REPO, self.model.bare)
        self.deploy_bare = root / "deploy.git"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.deploy_bare))
        self.config = ServiceConfig(
            github_api_url=api_url,
            github_token="test-token",
            webhook_secret=SECRET,
            allowed_repos=[REPO],
            deploy_repo_url=str(self.deploy_bare),
            work_dir=root / "work",
            workers=2,
            # Deployment mechanics are tested on their own; the validated-deploys rule has its tests.
            require_validated_deploys=False,
        )

    def deployment_log(self) -> list[str]:
        try:
            return git(
                self.root,
                "--git-dir",
                str(self.deploy_bare),
                "log",
                "--format=%H %(trailers:key=Model-Commit,valueonly,separator=)",
                "main",
            ).splitlines()
        except Exception:  # noqa: BLE001 - no branch yet
            return []

    def comments(self, number: int) -> list[dict]:
        return self.github.comments.get((REPO, number), [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(env: Env, port: int) -> subprocess.Popen[bytes]:
    variables = {
        "DATASURFACE_GITHUB_API_URL": env.api_url,
        "DATASURFACE_GITHUB_TOKEN": "test-token",
        "DATASURFACE_WEBHOOK_SECRET": SECRET,
        "DATASURFACE_ALLOWED_REPOS": REPO,
        "DATASURFACE_DEPLOY_REPO_URL": str(env.deploy_bare),
        "DATASURFACE_WORK_DIR": str(env.root / "work"),
        "DATASURFACE_WORKERS": "1",
        "DATASURFACE_REQUIRE_VALIDATED_DEPLOYS": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "handler.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **variables},
        stdout=subprocess.DEVNULL,
        stderr=(env.root / f"service-{port}.log").open("ab"),
    )
    wait_until(lambda: _healthy(port), timeout=60, what="service start")
    return process


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
