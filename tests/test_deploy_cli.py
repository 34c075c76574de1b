"""``datasurface deploy`` (what the GitHub Action runs): exactly once, never rolling back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .service_helpers import ModelRepo, add_column, git


def deploy(model: ModelRepo, bare: Path, work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "handler.cli",
            "deploy",
            "--model",
            str(model.work),
            "--deploy-repo",
            str(bare),
            "--model-repo",
            "acme/datasurface-model",
            "--work-dir",
            str(work),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_commits_once_and_never_rolls_back(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    first = model.sha()
    result = deploy(model, bare, tmp_path / "w1")
    assert result.returncode == 0 and result.stdout.startswith("deployed:"), result.stderr
    assert deploy(model, bare, tmp_path / "w2").stdout.startswith("already-deployed:")
    middle = model.change(add_column("nickname"), "add nickname")  # merged, but its deployment is late
    newer = model.change(add_column("loyalty"), "add loyalty")
    assert deploy(model, bare, tmp_path / "w1").stdout.startswith("deployed:")
    late = deploy(model, bare, tmp_path / "w2", "--model-commit", middle)
    assert late.returncode == 0 and late.stdout.startswith("superseded:") and "not rolling back" in late.stdout
    trailers = git(
        tmp_path, "--git-dir", str(bare), "log", "--format=%(trailers:key=Model-Commit,valueonly,separator=)", "main"
    ).split()
    assert trailers == [newer, first]


def test_deploy_refuses_a_model_with_lint_errors(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    model.change(lambda t: t.replace('"firstName"', '"first-name"'), "bad")
    result = deploy(model, bare, tmp_path / "w")
    assert result.returncode == 1 and "identifier-invalid" in result.stdout + result.stderr
    assert git(tmp_path, "--git-dir", str(bare), "branch") == ""


def test_two_deployment_repositories_get_their_own_clones(tmp_path: Path) -> None:
    from handler.gitrepo import DeployRepo

    first, second = (
        DeployRepo(tmp_path, "https://github.com/acme/a.git", "main"),
        DeployRepo(tmp_path, "https://github.com/acme/b.git", "main"),
    )
    assert first.path != second.path
    assert (
        DeployRepo(tmp_path, "https://x-access-token:secret@github.com/acme/a.git", "main").path == first.path
    )  # a new token, the same clone
    assert DeployRepo(tmp_path, "https://github.com/acme/a.git", "staging").path != first.path
    assert "secret" not in str(DeployRepo(tmp_path, "https://x-access-token:secret@github.com/acme/a.git", "main").path)


def test_concurrent_deployments_to_one_repository_take_turns(tmp_path: Path) -> None:
    import threading
    import time

    from handler.gitrepo import DeployRepo

    deploy = DeployRepo(tmp_path, str(tmp_path / "deploy.git"), "main")
    inside: list[int] = []
    overlaps: list[int] = []

    def use() -> None:
        with deploy.locked():
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_deploy_never_writes_push_credentials_into_the_manifests(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "handler.cli",
            "deploy",
            "--model",
            str(model.work),
            "--deploy-repo",
            f"file://bot:s3cret-token@localhost{bare}",
            "--model-repo",
            "acme/datasurface-model",
            "--work-dir",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.startswith("deployed:"), result.stderr
    root = git(tmp_path, "--git-dir", str(bare), "show", "main:apps/root.yaml")
    assert f"repoURL: file://localhost{bare}" in root and "s3cret-token" not in root
