"""The GitHub stand-in answers as GitHub's REST documentation says, or tests against it prove nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fake_github import FakeGitHub, Fault, ServerThread
from tests.support.gitrepos import ModelRepo, git

REPO = "acme/datasurface-model"
TOKEN = {"Authorization": "token test-token"}


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[FakeGitHub, str, ModelRepo]]:
    fake = FakeGitHub()
    model = ModelRepo(tmp_path)
    fake.add_repo(REPO, model.bare)
    with ServerThread(fake.app()) as url:
        fake.base_url = url
        yield fake, url, model


def test_lists_are_paginated_with_link_headers(github: tuple[FakeGitHub, str, ModelRepo]) -> None:
    fake, url, _ = github
    for n in range(150):
        fake.add_comment(REPO, 1, f"comment {n}", "someone")
    first = httpx.get(f"{url}/repos/{REPO}/issues/1/comments", headers=TOKEN)
    assert len(first.json()) == 30  # the default page size
    assert (
        'rel="next"' in first.headers["link"]
        and "page=2" in first.headers["link"]
        and 'rel="last"' in first.headers["link"]
    )
    big = httpx.get(f"{url}/repos/{REPO}/issues/1/comments", params={"per_page": 500, "page": 1}, headers=TOKEN)
    assert len(big.json()) == 100  # per_page is capped at 100
    last = httpx.get(f"{url}/repos/{REPO}/issues/1/comments", params={"per_page": 100, "page": 2}, headers=TOKEN)
    assert len(last.json()) == 50 and 'rel="next"' not in last.headers["link"]


def test_validation_errors_and_unknown_things_answer_as_github_does(github: tuple[FakeGitHub, str, ModelRepo]) -> None:
    _, url, model = github
    sha = model.sha()
    status = f"{url}/repos/{REPO}/statuses/{sha}"
    assert httpx.post(status, json={"state": "done"}, headers=TOKEN).status_code == 422
    assert httpx.post(status, json={"state": "success", "description": "x" * 141}, headers=TOKEN).status_code == 422
    assert httpx.post(status, json={"state": "success", "description": "x" * 140}, headers=TOKEN).status_code == 201
    comments = f"{url}/repos/{REPO}/issues/1/comments"
    assert httpx.post(comments, json={"body": ""}, headers=TOKEN).status_code == 422
    assert httpx.post(comments, json={"body": "x" * 65537}, headers=TOKEN).status_code == 422
    assert httpx.get(f"{url}/repos/acme/nothing/pulls/1", headers=TOKEN).status_code == 404
    assert httpx.get(f"{url}/repos/{REPO}/pulls/99", headers=TOKEN).status_code == 404


def test_pull_requests_have_github_refs_and_capped_file_lists(github: tuple[FakeGitHub, str, ModelRepo]) -> None:
    fake, url, model = github
    model.branch("team1")
    folder = model.work / "notes"
    folder.mkdir()
    for n in range(3005):
        (folder / f"{n:04d}.md").write_text("x\n")
    head = model.change(lambda t: t, "many files")
    model.push("team1")
    fake.open_pull(REPO, 3, "team1")
    assert git(model.work, "--git-dir", str(model.bare), "rev-parse", "refs/pull/3/head") == head
    merge = git(
        model.work, "--git-dir", str(model.bare), "rev-list", "--parents", "-n", "1", "refs/pull/3/merge"
    ).split()
    assert merge[1:] == [model.sha("main"), head]
    listed = 0
    page = 1
    while True:
        chunk = httpx.get(
            f"{url}/repos/{REPO}/pulls/3/files", params={"per_page": 100, "page": page}, headers=TOKEN
        ).json()
        if not chunk:
            break
        listed += len(chunk)
        page += 1
    assert listed == 3000  # GitHub lists at most 3,000 files


def test_faults_are_injected_as_github_shows_them(github: tuple[FakeGitHub, str, ModelRepo]) -> None:
    fake, url, _ = github
    fake.faults.append(Fault("rate-limit", method="POST", retry_after=7))
    refused = httpx.post(f"{url}/repos/{REPO}/issues/1/comments", json={"body": "hi"}, headers=TOKEN)
    assert (
        refused.status_code == 403 and refused.headers["retry-after"] == "7" and "secondary rate limit" in refused.text
    )
    fake.faults.append(Fault("lost", method="POST"))
    lost = httpx.post(f"{url}/repos/{REPO}/issues/1/comments", json={"body": "hi"}, headers=TOKEN)
    assert lost.status_code == 502 and len(fake.comments[(REPO, 1)]) == 1  # done, though the reply says otherwise
