"""The merge handler end to end: real HTTP, real git repositories, the local GitHub server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handler.service.app import create_app
from handler.service.config import ServiceConfig
from handler.service.queue import JobQueue
from handler.service.signature import sign
from handler.service.vcs import COMMENT_MARKER
from tests.support.fake_github import ServerThread
from tests.support.gitrepos import add_column, git
from tests.support.service_env import (
    FIXTURES,
    REPO,
    SECRET,
    Env,
    deliver,
    merge_and_wait_for_deploy,
    pr_payload,
    push_payload,
    wait_until,
)


@pytest.fixture
def service(env: Env) -> Iterator[str]:
    with ServerThread(create_app(env.config)) as url:
        yield url


def test_bad_or_missing_signatures_get_401_and_change_nothing(env: Env, service: str) -> None:
    payload = push_payload(env.model, env.model.sha(), "0" * 40)
    assert deliver(service, "push", payload, secret="wrong-secret").status_code == 401
    body = json.dumps(payload).encode()
    assert (
        httpx.post(
            f"{service}/webhook", content=body, headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "x"}
        ).status_code
        == 401
    )
    assert deliver(service, "push", payload).status_code == 202  # the right signature is accepted ...
    env.github.requests.clear()
    forged = httpx.post(
        f"{service}/webhook",
        content=body + b" ",
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "y",
            "X-Hub-Signature-256": sign(SECRET.encode(), body),
        },
    )
    assert forged.status_code == 401  # ... but not over a different body
    deliveries = httpx.get(f"{service}/").text
    assert ">x<" not in deliveries and ">y<" not in deliveries


def test_other_repositories_and_events_are_turned_away(env: Env, service: str) -> None:
    payload = push_payload(env.model, env.model.sha(), "0" * 40)
    payload["repository"]["full_name"] = "mallory/model"
    assert deliver(service, "push", payload).status_code == 403
    ping = json.loads((FIXTURES / "ping.json").read_text())
    ping["repository"]["full_name"] = REPO
    response = deliver(service, "ping", ping)
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    issue = deliver(service, "issues", {"repository": {"full_name": REPO}})
    assert issue.status_code == 202 and "not handled" in issue.json()["reason"]
    closed = pr_payload(env.model, 1, env.model.sha(), env.model.sha(), action="closed")
    assert deliver(service, "pull_request", closed).json()["status"] == "ignored"


def test_a_pull_request_gets_one_sticky_comment_and_statuses(env: Env, service: str) -> None:
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    env.model.push("team1")
    assert deliver(service, "pull_request", pr_payload(env.model, 7, head, base)).status_code == 202
    wait_until(
        lambda: any(s["state"] == "success" for s in env.github.statuses_for(head, "datasurface/validate")),
        what="success status",
    )
    states = [s["state"] for s in env.github.statuses_for(head, "datasurface/validate")]
    assert states == ["pending", "success"]
    (comment,) = env.comments(7)
    assert comment["body"].startswith(COMMENT_MARKER)
    assert (
        "this change may merge" in comment["body"]
        and "column:nickname" in comment["body"]
        and "Merge preview" in comment["body"]
    )
    assert all(r.authorization == "token test-token" for r in env.github.requests if r.path.startswith("/repos"))

    second = env.model.change(add_column("loyalty"), "add loyalty")
    env.model.push("team1")
    assert (
        deliver(service, "pull_request", pr_payload(env.model, 7, second, base, action="synchronize")).status_code
        == 202
    )
    wait_until(
        lambda: any(s["state"] == "success" for s in env.github.statuses_for(second, "datasurface/validate")),
        what="second status",
    )
    (edited,) = env.comments(7)  # the same comment, edited
    assert edited["id"] == comment["id"] and "column:loyalty" in edited["body"]


def test_a_forbidden_change_fails_and_the_comment_names_the_rule(env: Env, service: str) -> None:
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(
        lambda t: t.replace('                            DDLColumn("phone", VarChar(100)),\n', ""), "drop phone"
    )
    env.model.push("team1")
    deliver(service, "pull_request", pr_payload(env.model, 8, head, base))
    wait_until(
        lambda: any(s["state"] == "failure" for s in env.github.statuses_for(head, "datasurface/validate")),
        what="failure status",
    )
    (comment,) = env.comments(8)
    assert "must not merge" in comment["body"] and "`compat-column-removed`" in comment["body"]


def test_a_merge_is_deployed_exactly_once(env: Env, service: str) -> None:
    before = env.model.sha("main")
    env.model.branch("team1")
    env.model.change(add_column("nickname"), "add nickname")
    merged = env.model.merge_to_main("team1")
    payload = push_payload(env.model, merged, before)
    for _ in range(3):  # GitHub redelivers; each delivery has its own id
        assert deliver(service, "push", payload).status_code == 202
    wait_until(
        lambda: len([s for s in env.github.statuses_for(merged, "datasurface/deploy") if s["state"] == "success"]) == 3,
        what="three deploy results",
    )
    log = env.deployment_log()
    assert len(log) == 1 and log[0].split()[1] == merged
    message = git(env.root, "--git-dir", str(env.deploy_bare), "log", "-1", "--format=%B", "main")
    assert f"Model-Commit: {merged}" in message and merged[:12] in message.splitlines()[0]
    manifest = json.loads(git(env.root, "--git-dir", str(env.deploy_bare), "show", "main:.datasurface/manifest.json"))
    assert manifest["model_commit"] == merged
    descriptions = [
        s["description"] for s in env.github.statuses_for(merged, "datasurface/deploy") if s["state"] == "success"
    ]
    assert (
        sum(d.startswith("Deployed as") for d in descriptions) == 1
        and sum(d.startswith("Already deployed") for d in descriptions) == 2
    )


def test_two_merges_delivered_in_reverse_order_leave_the_newer_deployed(env: Env, service: str) -> None:
    start = env.model.sha("main")
    env.model.branch("team1")
    env.model.change(add_column("first_col"), "first")
    older = env.model.merge_to_main("team1")
    env.model.branch("team1", "main")
    env.model.change(add_column("second_col"), "second")
    newer = env.model.merge_to_main("team1")
    deliver(service, "push", push_payload(env.model, newer, older))
    wait_until(
        lambda: any(s["state"] == "success" for s in env.github.statuses_for(newer, "datasurface/deploy")),
        what="newer deployed",
    )
    deliver(service, "push", push_payload(env.model, older, start))
    wait_until(
        lambda: any(s["state"] == "success" for s in env.github.statuses_for(older, "datasurface/deploy")),
        what="older handled",
    )
    assert [line.split()[1] for line in env.deployment_log()] == [newer]
    assert "Superseded" in env.github.statuses_for(older, "datasurface/deploy")[-1]["description"]


def test_a_model_that_does_not_lint_is_not_deployed(env: Env, service: str) -> None:
    before = env.model.sha("main")
    env.model.branch("team1")
    env.model.change(lambda t: t.replace('"firstName"', '"first-name"'), "bad name")
    merged = env.model.merge_to_main("team1")
    deliver(service, "push", push_payload(env.model, merged, before))
    wait_until(
        lambda: any(s["state"] == "failure" for s in env.github.statuses_for(merged, "datasurface/deploy")),
        what="deploy failure",
    )
    assert "identifier-invalid" in env.github.statuses_for(merged, "datasurface/deploy")[-1]["description"]
    assert env.deployment_log() == []


def test_a_rejected_push_is_retried_on_top_of_the_new_head(
    env: Env, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handler.gitrepo import DeployRepo

    other = env.root / "someone-else"
    real_sync = DeployRepo.sync
    calls = []

    def sync_then_someone_pushes(self: DeployRepo):  # type: ignore[no-untyped-def]
        repo = real_sync(self)
        calls.append(1)
        if len(calls) == 1:  # between the service's fetch and its push, another writer pushes
            git(env.root, "clone", "-q", str(env.deploy_bare), str(other))
            (other / "README.md").write_text("deployment repository\n")
            git(other, "add", "-A")
            git(other, "commit", "-q", "-m", "someone else's commit")
            git(other, "push", "-q", "origin", "HEAD:main")
        return repo

    monkeypatch.setattr(DeployRepo, "sync", sync_then_someone_pushes)
    merged = merge_and_wait_for_deploy(env, service)
    assert len(calls) == 2  # rejected once, then synced again and pushed on top
    assert git(env.root, "--git-dir", str(env.deploy_bare), "show", "main:README.md") == "deployment repository"
    assert (
        git(env.root, "--git-dir", str(env.deploy_bare), "log", "-1", "--format=%s", "main~1")
        == "someone else's commit"
    )
    assert [line.split()[1] for line in env.deployment_log() if len(line.split()) > 1] == [merged]


def test_health_metrics_and_status_page(env: Env, service: str) -> None:
    assert httpx.get(f"{service}/healthz").json()["status"] == "ok"
    deliver(service, "push", push_payload(env.model, env.model.sha(), "0" * 40), secret="nope")
    metrics = httpx.get(f"{service}/metrics").text
    assert 'datasurface_webhook_deliveries_total{event="push",result="bad-signature"} 1.0' in metrics
    assert "datasurface_queue_depth" in metrics and "datasurface_job_seconds" in metrics
    page = httpx.get(f"{service}/")
    assert page.status_code == 200 and "Deployments" in page.text and "Validations" in page.text


def test_git_working_copies_left_half_made_by_a_kill_are_repaired(tmp_path: Path) -> None:
    import git as gitpython

    from handler.gitrepo import DeployRepo, ModelMirror
    from tests.support.gitrepos import ModelRepo

    model = ModelRepo(tmp_path)
    mirror = ModelMirror(tmp_path / "work", "acme/model")
    gitpython.Repo.init(mirror.path, bare=True)  # killed after init, before the remote was added
    assert mirror.fetch(str(model.bare)).commit("main").hexsha == model.sha("main")
    deploy = DeployRepo(tmp_path / "work", str(model.bare), "main")
    deploy.path.mkdir(parents=True)
    (deploy.path / ".git").mkdir()  # killed in the middle of git init
    assert deploy.sync().head.commit.hexsha == model.sha("main")
    (deploy.path / ".git" / "index.lock").write_text("")  # killed in the middle of a commit
    assert deploy.sync().head.commit.hexsha == model.sha("main")


def test_secrets_never_reach_logs_results_or_statuses(env: Env, service: str) -> None:
    from handler.service.logs import JsonFormatter, scrub

    assert (
        scrub("fatal: unable to access https://x-access-token:test-token@github.com/acme/x.git")
        == "fatal: unable to access https://x-access-token:***@github.com/acme/x.git"
    )
    import logging

    record = logging.makeLogRecord({"msg": "webhook secret is %s", "args": (SECRET,), "levelname": "INFO"})
    assert SECRET not in JsonFormatter().format(record)


def test_oversized_bodies_are_refused(env: Env, service: str) -> None:
    response = httpx.post(
        f"{service}/webhook",
        content=b"x" * (25 * 1024 * 1024 + 1),
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "big", "X-Hub-Signature-256": "sha256=0"},
    )
    assert response.status_code == 413


@pytest.fixture
def app_key(env: Env, tmp_path: Path) -> tuple[Any, ServiceConfig]:
    """A GitHub App's private key, and the service configured to authenticate as that app."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.pem"
    encoding, private_format = serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL
    pem.write_bytes(key.private_bytes(encoding, private_format, serialization.NoEncryption()))
    update = {"github_token": None, "github_app_id": 1234, "github_app_private_key_file": pem}
    return key, env.config.model_copy(update=update)


def test_github_app_credentials_use_an_installation_token(env: Env, app_key: tuple[Any, ServiceConfig]) -> None:
    import jwt

    from handler.service.vcs import GitHubClient

    key, config = app_key
    client = GitHubClient(config, installation_id=42)
    client.set_status(REPO, "a" * 40, "datasurface/validate", "pending", "checking")
    token_request = next(r for r in env.github.requests if r.path == "/app/installations/42/access_tokens")
    claims = jwt.decode(token_request.authorization.split()[1], key.public_key(), algorithms=["RS256"])
    assert claims["iss"] in (1234, "1234")  # signed by the app's private key
    status_request = next(r for r in env.github.requests if r.path.endswith("/statuses/" + "a" * 40))
    assert status_request.authorization == "token ghs_installation_42"
    assert (
        client.clone_url("https://github.com/acme/x.git")
        == "https://x-access-token:ghs_installation_42@github.com/acme/x.git"
    )


def test_each_status_links_to_the_page_of_its_job(env: Env) -> None:
    with ServerThread(
        create_app(env.config.model_copy(update={"public_url": "https://datasurface.example.com/"}))
    ) as service:
        base = env.model.sha("main")
        env.model.branch("team1")
        head = env.model.change(add_column("nickname"), "add nickname")
        env.model.push("team1")
        deliver(service, "pull_request", pr_payload(env.model, 9, head, base))
        wait_until(
            lambda: any(s["state"] == "success" for s in env.github.statuses_for(head, "datasurface/validate")),
            what="success status",
        )
        links = {s["target_url"] for s in env.github.statuses_for(head, "datasurface/validate")}
        (link,) = links  # pending and success point at the same job
        assert link.startswith("https://datasurface.example.com/jobs/")
        page = httpx.get(service + link.removeprefix("https://datasurface.example.com"))
        assert page.status_code == 200
        assert "done" in page.text and "this change may merge" in page.text and "column:nickname" in page.text
        assert httpx.get(f"{service}/jobs/999999").status_code == 404


def test_the_sticky_comment_is_only_ever_one_the_bot_wrote(env: Env, service: str) -> None:
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    env.model.push("team1")
    forged = env.github.add_comment(REPO, 12, f"{COMMENT_MARKER}\n## ✅ DataSurface: this change may merge", "mallory")
    deliver(service, "pull_request", pr_payload(env.model, 12, head, base))
    wait_until(lambda: any(s["state"] == "success" for s in env.github.statuses_for(head, "datasurface/validate")))
    comments = env.comments(12)
    assert len(comments) == 2
    assert comments[0]["id"] == forged["id"] and comments[0]["body"].endswith("this change may merge")  # untouched
    assert comments[1]["user"]["login"] == "datasurface-bot" and "column:nickname" in comments[1]["body"]


def test_an_app_finds_its_comment_by_its_bot_account(env: Env, app_key: tuple[Any, ServiceConfig]) -> None:
    from handler.service.vcs import GitHubClient

    client = GitHubClient(app_key[1], installation_id=42)
    assert client.login == "datasurface[bot]"
    env.github.add_comment(REPO, 5, f"{COMMENT_MARKER}\nold", "datasurface-bot")  # a token's comment, not the app's
    first = client.upsert_comment(REPO, 5, "report 1")
    second = client.upsert_comment(REPO, 5, "report 2")
    assert first == second and len(env.comments(5)) == 2 and env.comments(5)[1]["body"].endswith("report 2")


@pytest.fixture
def strict_service(env: Env) -> Iterator[tuple[str, JobQueue]]:
    """The service as deployed: a merge deploys only a model that validation judged and passed."""
    app = create_app(env.config.model_copy(update={"require_validated_deploys": True}))
    with ServerThread(app) as url:
        yield url, app.state.queue


def test_a_validated_merge_deploys_and_an_unvalidated_push_does_not(
    env: Env, strict_service: tuple[str, JobQueue]
) -> None:
    service, _ = strict_service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    env.model.push("team1")
    deliver(service, "pull_request", pr_payload(env.model, 21, head, base))
    wait_until(lambda: any(s["state"] == "success" for s in env.github.statuses_for(head, "datasurface/validate")))
    merged = env.model.merge_to_main("team1")
    deliver(service, "push", push_payload(env.model, merged, base))
    wait_until(lambda: any(s["state"] != "pending" for s in env.github.statuses_for(merged, "datasurface/deploy")))
    assert [s["state"] for s in env.github.statuses_for(merged, "datasurface/deploy")] == ["pending", "success"]

    env.model.branch("main")
    pushed = env.model.change(add_column("loyalty"), "pushed straight to main, never validated")
    env.model.push("main")
    deliver(service, "push", push_payload(env.model, pushed, merged))
    wait_until(lambda: any(s["state"] == "failure" for s in env.github.statuses_for(pushed, "datasurface/deploy")))
    (failure,) = [s for s in env.github.statuses_for(pushed, "datasurface/deploy") if s["state"] == "failure"]
    assert "matches no validated pull request" in failure["description"]
    assert [line.split()[1] for line in env.deployment_log()] == [merged]


def test_a_model_that_evaluates_differently_than_when_validated_is_not_deployed(
    env: Env, strict_service: tuple[str, JobQueue]
) -> None:
    service, queue = strict_service
    base = env.model.sha("main")
    env.model.branch("team1")
    env.model.change(add_column("nickname"), "add nickname")
    merged = env.model.merge_to_main("team1")
    tree = git(env.model.work, "rev-parse", f"{merged}^{{tree}}")
    queue.record_validation(REPO, tree, "0" * 64, "pass", 22, merged)  # what validation judged: another model
    deliver(service, "push", push_payload(env.model, merged, base))
    wait_until(lambda: any(s["state"] == "failure" for s in env.github.statuses_for(merged, "datasurface/deploy")))
    (failure,) = [s for s in env.github.statuses_for(merged, "datasurface/deploy") if s["state"] == "failure"]
    assert "is not the model that was validated" in failure["description"]
    assert env.deployment_log() == []


def test_the_sticky_comment_is_found_beyond_the_first_page(env: Env, service: str) -> None:
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    env.model.push("team1")
    deliver(service, "pull_request", pr_payload(env.model, 61, head, base))
    wait_until(lambda: any(s["state"] == "success" for s in env.github.statuses_for(head, "datasurface/validate")))
    for n in range(150):  # a busy discussion: the bot's comment is now on page 1 of 2 at 100 a page
        env.github.add_comment(REPO, 61, f"discussion {n}", "someone")
    second = env.model.change(add_column("loyalty"), "add loyalty")
    env.model.push("team1")
    deliver(service, "pull_request", pr_payload(env.model, 61, second, base, action="synchronize"))
    wait_until(lambda: any(s["state"] == "success" for s in env.github.statuses_for(second, "datasurface/validate")))
    mine = [c for c in env.comments(61) if c["body"].startswith(COMMENT_MARKER)]
    assert len(mine) == 1 and "column:loyalty" in mine[0]["body"]
