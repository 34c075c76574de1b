"""Validating pull requests as GitHub really behaves (``handler/service/validation_runner.py`` and
its retries in ``worker.py``), against the GitHub stand-in: what a person sees on the pull request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from handler.service.app import create_app
from handler.service.queue import FAILED, JobQueue
from handler.service.vcs import COMMENT_MARKER
from tests.support.fake_github import Fault, ServerThread
from tests.support.gitrepos import add_column, git
from tests.support.service_env import FIXTURES, REPO, Env, deliver, pr_payload, push_payload, wait_until

VALIDATE = "datasurface/validate"


@pytest.fixture
def service(env: Env) -> Iterator[tuple[str, JobQueue]]:
    app = create_app(env.config)
    with ServerThread(app) as url:
        yield url, app.state.queue


def open_pr(env: Env, number: int, edit_branch: object = None) -> str:
    """A pull request from branch team1 (already committed and pushed); returns its head."""
    env.model.push("team1")
    env.github.open_pull(REPO, number, "team1")
    return env.model.sha("team1")


def add_country(text: str) -> str:
    zipcode = 'DDLColumn("zipCode", VarChar(30), **NOT_NULL),'
    return text.replace(zipcode, zipcode + '\n                            DDLColumn("country", VarChar(40)),')


def final_states(env: Env, sha: str) -> list[str]:
    return [s["state"] for s in env.github.statuses_for(sha, VALIDATE)]


def test_a_forbidden_file_after_3000_others_is_still_found(env: Env, service: tuple[str, JobQueue]) -> None:
    """GitHub lists at most 3,000 files of a pull request; the changed files come from git."""
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    docs = env.model.work / "docs"
    docs.mkdir()
    for n in range(3050):
        (docs / f"note_{n:04d}.md").write_text(f"note {n}\n")
    (env.model.work / "zz_requirements.txt").write_text("evil==1.0\n")
    head = env.model.change(lambda text: text, "3,050 notes and one forbidden file")
    open_pr(env, 31)
    listed = env.github.requests  # the API would have listed the forbidden file on page 31, beyond the cap
    deliver(url, "pull_request", pr_payload(env.model, 31, head, base))
    wait_until(lambda: "failure" in final_states(env, head), what="a failure status")
    (comment,) = env.comments(31)
    assert "files-forbidden" in comment["body"] and "file:zz_requirements.txt" in comment["body"]
    assert not any(r.path.endswith("/pulls/31/files") for r in listed)


def test_writes_refused_with_retry_after_are_retried_after_the_wait(env: Env, service: tuple[str, JobQueue]) -> None:
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 32)
    env.github.refuse_writes_until = time.time() + 5  # a secondary rate limit: every write 403, Retry-After
    started = time.time()
    deliver(url, "pull_request", pr_payload(env.model, 32, head, base))
    wait_until(lambda: "success" in final_states(env, head), timeout=120, what="the success status")
    assert time.time() - started >= 4.5
    assert final_states(env, head) == ["pending", "success"]
    (comment,) = env.comments(32)
    assert comment["body"].startswith(COMMENT_MARKER) and "this change may merge" in comment["body"]


def test_a_retried_job_says_pending_once(env: Env, service: tuple[str, JobQueue]) -> None:
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 33)
    env.github.faults.append(Fault("502", method="GET", path="/issues/33/comments", count=8))
    deliver(url, "pull_request", pr_payload(env.model, 33, head, base))
    wait_until(lambda: "success" in final_states(env, head), timeout=120, what="the success status")
    assert final_states(env, head) == ["pending", "success"]


def test_a_lost_reply_never_makes_a_second_comment(env: Env, service: tuple[str, JobQueue]) -> None:
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 34)
    env.github.faults.append(Fault("lost", method="POST", path="/issues/34/comments"))
    deliver(url, "pull_request", pr_payload(env.model, 34, head, base))
    wait_until(lambda: "success" in final_states(env, head), timeout=120, what="the success status")
    assert len(env.comments(34)) == 1


def test_a_deleted_repository_is_not_retried_and_says_why(env: Env, service: tuple[str, JobQueue]) -> None:
    url, queue = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    env.model.push("team1")
    del env.github.repos[REPO]
    deliver(url, "pull_request", pr_payload(env.model, 35, head, base))
    wait_until(lambda: bool(queue.jobs_with(FAILED)), what="the job to fail")
    (job,) = queue.jobs_with(FAILED)
    assert job["attempts"] == 1
    assert "404 Not Found" in job["result"] and "no longer exists" in job["result"] and "{" not in job["result"]


def test_a_pull_request_from_a_deleted_fork_names_its_source_plainly(env: Env, service: tuple[str, JobQueue]) -> None:
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 36)
    payload = pr_payload(env.model, 36, head, base)
    payload["pull_request"]["head"]["repo"] = None
    deliver(url, "pull_request", payload)
    wait_until(lambda: "failure" in final_states(env, head), what="a failure status")
    (comment,) = env.comments(36)
    assert "(deleted fork)@team1" in comment["body"] and "`@team1`" not in comment["body"]


def test_a_branch_cut_before_main_moved_is_judged_merged_into_main_as_it_is(
    env: Env, service: tuple[str, JobQueue]
) -> None:
    """Main adds country to addresses after the branch point; the pull request adds loyaltyTier.
    Judged against its own old base, main's column would look removed by the pull request."""
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("loyaltyTier"), "add loyaltyTier")
    env.model.branch("main")
    env.model.change(add_country, "main adds addresses.country")
    env.model.push("main")
    main = env.model.sha("main")
    git(env.model.work, "checkout", "-q", "team1")
    open_pr(env, 37)
    deliver(url, "pull_request", pr_payload(env.model, 37, head, base))
    wait_until(lambda: any(s in final_states(env, head) for s in ("success", "failure")), what="a verdict")
    (status,) = [s for s in env.github.statuses_for(head, VALIDATE) if s["state"] != "pending"]
    assert status["state"] == "success", env.comments(37)[0]["body"]
    assert f"main {main[:7]}" in status["description"]
    assert "compat-column-removed" not in env.comments(37)[0]["body"]


# --- concurrent changes ---------------------------------------------------------------------


def test_when_main_moves_open_pull_requests_are_validated_again_against_it(
    env: Env, service: tuple[str, JobQueue]
) -> None:
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 41)
    deliver(url, "pull_request", pr_payload(env.model, 41, head, base))
    wait_until(lambda: "success" in final_states(env, head), what="the first verdict")
    env.model.branch("main")
    moved = env.model.change(add_country, "main moves on: addresses.country")
    env.model.push("main")
    env.github.update_refs(REPO)
    deliver(url, "push", push_payload(env.model, moved, base))
    wait_until(lambda: final_states(env, head).count("success") == 2, what="the verdict against the new main")
    first, second = [s["description"] for s in env.github.statuses_for(head, VALIDATE) if s["state"] == "success"]
    assert f"main {base[:7]}" in first and f"main {moved[:7]}" in second
    (comment,) = env.comments(41)  # the same sticky comment, now judged against the new main
    assert f"main {moved[:7]}" in comment["body"]


def merge_group_payload(env: Env, head_sha: str, base_sha: str, ref: str) -> dict[str, object]:
    payload = json.loads((FIXTURES / "merge_group.checks_requested.json").read_text())
    payload["merge_group"].update(
        head_sha=head_sha, base_sha=base_sha, head_ref=f"refs/heads/{ref}", base_ref="refs/heads/main"
    )
    payload["repository"].update(full_name=REPO, clone_url=str(env.model.bare), default_branch="main")
    return payload


@pytest.mark.parametrize(("change", "verdict"), [(add_column("nickname"), "success"), (None, "failure")])
def test_a_merge_queue_commit_gets_a_verdict_on_exactly_what_will_land(
    env: Env, service: tuple[str, JobQueue], change: object, verdict: str
) -> None:
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("queue")
    edit = change or (lambda t: t.replace('                            DDLColumn("phone", VarChar(100)),\n', ""))
    group = env.model.change(edit, "the merge group's commit")  # type: ignore[arg-type]
    ref = f"gh-readonly-queue/main/pr-42-{group}"
    git(env.model.work, "push", "-q", "origin", f"queue:refs/heads/{ref}")
    deliver(url, "merge_group", merge_group_payload(env, group, base, ref))
    wait_until(lambda: any(s != "pending" for s in final_states(env, group)), what="the merge group's verdict")
    (status,) = [s for s in env.github.statuses_for(group, VALIDATE) if s["state"] != "pending"]
    assert status["state"] == verdict
    if verdict == "failure":
        assert "compat-column-removed" in status["description"]


# --- comment commands -----------------------------------------------------------------------


def comment_payload(env: Env, number: int, body: str, login: str) -> dict[str, object]:
    payload = json.loads((FIXTURES / "issue_comment.created.json").read_text())
    payload["issue"].update(number=number, pull_request={"url": f"https://api.github.com/repos/{REPO}/pulls/{number}"})
    payload["comment"].update(id=9000 + number, body=body)
    payload["comment"]["user"].update(login=login, type="User")
    payload["repository"].update(full_name=REPO, clone_url=str(env.model.bare), default_branch="main")
    return payload


def test_validate_on_request_from_someone_who_may_write(env: Env, service: tuple[str, JobQueue]) -> None:
    url, _ = service
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 43)
    deliver(url, "pull_request", pr_payload(env.model, 43, head, base))
    wait_until(lambda: "success" in final_states(env, head), what="the first verdict")
    env.github.permissions["alice"] = "write"
    deliver(url, "issue_comment", comment_payload(env, 43, "/datasurface validate", "alice"))
    wait_until(lambda: final_states(env, head).count("success") == 2, what="the requested validation")
    assert [(r["comment_id"], r["content"]) for r in env.github.reactions] == [(9043, "eyes")]


def test_requests_from_readers_and_other_comments_are_ignored(env: Env, service: tuple[str, JobQueue]) -> None:
    url, queue = service
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 44)
    env.github.permissions["mallory"] = "read"
    deliver(url, "issue_comment", comment_payload(env, 44, "/datasurface validate", "mallory"))
    ignored = deliver(url, "issue_comment", comment_payload(env, 44, "looks good to me", "alice"))
    assert ignored.json()["status"] == "ignored"
    wait_until(
        lambda: any("ignored /datasurface validate from mallory" in (j["result"] or "") for j in queue.recent_jobs())
    )
    assert env.github.reactions == [] and final_states(env, head) == [] and env.comments(44) == []


def test_plan_posts_the_merge_preview_alone(env: Env, service: tuple[str, JobQueue]) -> None:
    url, _ = service
    env.model.branch("team1")
    env.model.change(add_column("nickname"), "add nickname")
    open_pr(env, 45)
    env.github.permissions["alice"] = "maintain"
    deliver(url, "issue_comment", comment_payload(env, 45, "/datasurface plan", "alice"))
    wait_until(lambda: bool(env.comments(45)), what="the preview comment")
    (comment,) = env.comments(45)
    assert comment["body"].startswith("<!-- datasurface:plan -->") and "merge preview" in comment["body"]
    assert "Store1" in comment["body"] or "view" in comment["body"]
