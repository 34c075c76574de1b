"""Deploying merges (``handler/service/deploy_runner.py``): a merge that would break what is
deployed is not deployed, and the merged pull request is told why and how to recover."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handler.service.app import create_app
from tests.support.fake_github import ServerThread
from tests.support.gitrepos import add_column
from tests.support.service_env import REPO, Env, deliver, push_payload, wait_until

DEPLOY = "datasurface/deploy"


@pytest.fixture
def service(env: Env) -> Iterator[str]:
    with ServerThread(create_app(env.config)) as url:
        yield url


def deployed(env: Env, sha: str, before: str, service: str) -> str:
    deliver(service, "push", push_payload(env.model, sha, before))
    wait_until(
        lambda: any(s["state"] != "pending" for s in env.github.statuses_for(sha, DEPLOY)), what="a deploy result"
    )
    (result,) = [s for s in env.github.statuses_for(sha, DEPLOY) if s["state"] != "pending"]
    return str(result["state"])


def test_an_admin_merge_that_breaks_the_deployed_model_is_not_deployed(env: Env, service: str) -> None:
    first = env.model.sha("main")
    assert deployed(env, first, "0" * 40, service) == "success"
    env.model.branch("team1")
    env.model.change(
        lambda t: t.replace('                            DDLColumn("phone", VarChar(100)),\n', ""), "drop phone"
    )
    env.model.push("team1")
    env.github.open_pull(REPO, 51, "team1")
    merged = env.model.merge_to_main("team1")  # merged without the check passing
    env.github.mark_merged(REPO, 51, merged)
    assert deployed(env, merged, first, service) == "failure"
    (status,) = [s for s in env.github.statuses_for(merged, DEPLOY) if s["state"] == "failure"]
    assert "compat-column-removed" in status["description"] and first[:12] in status["description"]
    (comment,) = env.comments(51)
    assert comment["body"].startswith("<!-- datasurface:deploy -->")
    assert (
        "merged but not deployed" in comment["body"]
        and "revert" in comment["body"]
        and "fix forward" in comment["body"]
    )
    assert [line.split()[1] for line in env.deployment_log()] == [first]


def test_two_merges_each_fine_alone_are_checked_together_against_what_is_deployed(env: Env, service: str) -> None:
    first = env.model.sha("main")
    assert deployed(env, first, "0" * 40, service) == "success"
    env.model.branch("main")
    compatible = env.model.change(add_column("nickname"), "a compatible change")
    env.model.push("main")
    assert deployed(env, compatible, first, service) == "success"
    assert [line.split()[1] for line in env.deployment_log()] == [compatible, first]
