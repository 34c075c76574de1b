"""Rollout feedback in the service (``handler/service/rollout_runner.py``): after a deployment
the merged commit gets a ``datasurface/rollout`` status and its pull request one rollout comment,
from what Argo CD and Argo Workflows report (a Kubernetes API stand-in, through the real client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from handler.service.app import create_app
from tests.support.fake_github import ServerThread
from tests.support.gitrepos import add_column
from tests.support.kube_api import KubeAPI, roll_out_template
from tests.support.service_env import REPO, Env, deliver, push_payload, wait_until

ROLLOUT = "datasurface/rollout"


NOTIFIED: list[dict] = []


def notify_receiver() -> FastAPI:
    """A Slack-compatible incoming webhook."""
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict:
        NOTIFIED.append(await request.json())
        return {"ok": True}

    return app


@pytest.fixture
def cluster(env: Env, tmp_path: Path) -> Iterator[tuple[KubeAPI, str]]:
    api = KubeAPI()
    NOTIFIED.clear()
    with ServerThread(api.app()) as kube_url, ServerThread(notify_receiver()) as hook_url:
        config = env.config.model_copy(
            update={
                "track_rollouts": True,
                "kubeconfig": str(api.kubeconfig(tmp_path, kube_url)),
                "rollout_poll": 0.2,
                "rollout_timeout": 60.0,
                "argo_ui_url": "https://argo.example.com",
                "argocd_ui_url": "https://cd.example.com",
                "notify_url": SecretStr(f"{hook_url}/hook"),
            }
        )
        with ServerThread(create_app(config)) as service:
            yield api, service


def merge_pull(env: Env, number: int, column: str) -> str:
    env.model.branch(f"team{number}")
    env.model.change(add_column(column), f"add {column}")
    env.model.push(f"team{number}")
    env.github.open_pull(REPO, number, f"team{number}")
    merged = env.model.merge_to_main(f"team{number}")
    env.github.mark_merged(REPO, number, merged)
    return merged


def states(env: Env, sha: str) -> list[str]:
    return [s["state"] for s in env.github.statuses_for(sha, ROLLOUT)]


def settled(env: Env, sha: str) -> dict:
    wait_until(lambda: any(s != "pending" for s in states(env, sha)), what="a rollout result")
    return next(s for s in env.github.statuses_for(sha, ROLLOUT) if s["state"] != "pending")


def test_a_rollout_is_pending_then_reported_on_the_commit_and_its_pull_request(
    env: Env, cluster: tuple[KubeAPI, str]
) -> None:
    api, service = cluster
    merged = merge_pull(env, 61, "nickname")
    deliver(service, "push", push_payload(env.model, merged, "0" * 40))
    wait_until(lambda: "pending" in states(env, merged), what="a pending rollout")
    deploy_commit = env.deployment_log()[0].split()[0]
    roll_out_template(api, merged, deploy_commit)
    status = settled(env, merged)
    assert status["state"] == "success" and status["description"].startswith("Rolled out")
    (comment,) = [c for c in env.comments(61) if c["body"].startswith("<!-- datasurface:rollout -->")]
    assert "| YellowLive | Store1 |" in comment["body"] and "| Succeeded | 1 | 4 | 0 | 0 |" in comment["body"]
    assert "(https://cd.example.com/applications/datasurface-root)" in comment["body"]


def test_a_failed_first_run_fails_the_rollout_and_links_to_the_run(env: Env, cluster: tuple[KubeAPI, str]) -> None:
    api, service = cluster
    merged = merge_pull(env, 62, "loyalty")
    deliver(service, "push", push_payload(env.model, merged, "0" * 40))
    wait_until(lambda: bool(env.deployment_log()), what="a deployment")
    roll_out_template(api, merged, env.deployment_log()[0].split()[0], failing="YellowLive")
    status = settled(env, merged)
    assert status["state"] == "failure" and "relation people does not exist" in status["description"]
    assert status["target_url"] == "https://argo.example.com/workflows/ds-yellowlive/yellowlive-store1-1"
    (comment,) = [c for c in env.comments(62) if c["body"].startswith("<!-- datasurface:rollout -->")]
    assert "failure" in comment["body"]
    (message,) = NOTIFIED
    assert f"rollout of acme/datasurface-model@{merged[:12]} failed" in message["text"]
    assert "relation people does not exist" in message["text"] and "yellowlive-store1-1" in message["text"]


def test_a_newer_deployment_supersedes_a_rollout_still_pending(env: Env, cluster: tuple[KubeAPI, str]) -> None:
    api, service = cluster
    first = merge_pull(env, 63, "nickname")
    deliver(service, "push", push_payload(env.model, first, "0" * 40))
    wait_until(lambda: "pending" in states(env, first), what="a pending rollout")
    second = merge_pull(env, 64, "loyalty")
    deliver(service, "push", push_payload(env.model, second, first))
    status = settled(env, first)
    assert status["state"] == "success" and status["description"].startswith(
        f"Superseded by the deployment of {second[:12]}"
    )
    roll_out_template(api, second, env.deployment_log()[0].split()[0])
    assert settled(env, second)["state"] == "success"


def test_a_restarted_service_carries_on_following_a_rollout(env: Env, tmp_path: Path) -> None:
    api = KubeAPI()
    with ServerThread(api.app()) as kube_url:
        config = env.config.model_copy(
            update={
                "track_rollouts": True,
                "kubeconfig": str(api.kubeconfig(tmp_path, kube_url)),
                "rollout_poll": 0.2,
            }
        )
        merged = merge_pull(env, 65, "nickname")
        with ServerThread(create_app(config)) as service:
            deliver(service, "push", push_payload(env.model, merged, "0" * 40))
            wait_until(lambda: "pending" in states(env, merged), what="a pending rollout")
        # The service is gone mid-rollout; Argo CD syncs and the first runs succeed meanwhile.
        roll_out_template(api, merged, env.deployment_log()[0].split()[0])
        with ServerThread(create_app(config)):
            status = settled(env, merged)
        assert status["state"] == "success"
        assert states(env, merged).count("pending") == 1  # one pending, never repeated by the restart
