"""``datasurface deploy`` (what the GitHub Action runs): exactly once, never rolling back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .service_helpers import ModelRepo, add_column, git


def deploy(model: ModelRepo, bare: Path, work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handler.cli", "deploy", "--model", str(model.work), "--deploy-repo", str(bare),
         "--model-repo", "acme/datasurface-model", "--work-dir", str(work), *extra],
        capture_output=True, text=True, timeout=120,
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
    trailers = git(tmp_path, "--git-dir", str(bare), "log", "--format=%(trailers:key=Model-Commit,valueonly,separator=)", "main").split()
    assert trailers == [newer, first]


def test_deploy_refuses_a_model_with_lint_errors(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    model.change(lambda t: t.replace('"firstName"', '"first-name"'), "bad")
    result = deploy(model, bare, tmp_path / "w")
    assert result.returncode == 1 and "identifier-invalid" in result.stdout + result.stderr
    assert git(tmp_path, "--git-dir", str(bare), "branch") == ""
