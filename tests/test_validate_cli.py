"""``datasurface validate`` end to end: real sandboxes, real git checkouts, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(cwd: Path, *args: str) -> str:
    import os

    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handler.cli", "validate", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def checkouts(tmp_path: Path) -> tuple[Path, Path]:
    """A model repository with main checked out at base/ and a PR branch at head/ (git worktrees)."""
    base = tmp_path / "base"
    shutil.copytree(TEMPLATE, base, ignore=shutil.ignore_patterns("__pycache__"))
    git(base, "init", "-q", "-b", "main")
    git(base, "add", "-A")
    git(base, "commit", "-q", "-m", "initial model")
    head = tmp_path / "head"
    git(base, "worktree", "add", "-q", "-b", "team1", str(head))
    return base, head


def test_a_widening_pr_passes_with_changed_files_from_git(checkouts: tuple[Path, Path]) -> None:
    base, head = checkouts
    eco = head / "eco.py"
    eco.write_text(
        eco.read_text().replace(
            'DDLColumn("phone", VarChar(100))',
            'DDLColumn("phone", VarChar(200)),\n                            DDLColumn("nickname", VarChar(50))',
        )
    )
    git(head, "commit", "-q", "-am", "widen phone, add nickname")
    result = validate(
        "--base", str(base), "--head", str(head), "--source", "acme/datasurface-model@team1", "--format", "json"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "pass" and report["findings"] == []
    assert report["changed_files"] == ["eco.py"]
    customers = "zone:USA/team:team1/store:Store1/dataset:customers"
    assert report["changes"] == [
        {"path": f"{customers}/column:nickname", "kind": "added"},
        {"path": f"{customers}/column:phone", "kind": "modified"},
    ]


def test_a_pr_touching_workflows_fails_and_markdown_explains(checkouts: tuple[Path, Path], tmp_path: Path) -> None:
    base, head = checkouts
    (head / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (head / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    git(head, "add", "-A")
    git(head, "commit", "-q", "-m", "sneak in a workflow")
    out = tmp_path / "report.md"
    result = validate(
        "--base",
        str(base),
        "--head",
        str(head),
        "--source",
        "acme/datasurface-model@team1",
        "--format",
        "markdown",
        "--out",
        str(out),
    )
    assert result.returncode == 1
    text = out.read_text()
    assert text.startswith("## ❌")
    assert "`files-forbidden`" in text and "`file:.github/workflows/ci.yml`" in text


def test_explicit_changed_files_and_an_empty_base(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    ok = validate(
        "--base",
        str(empty),
        "--head",
        str(TEMPLATE),
        "--source",
        "acme/datasurface-model@main",
        "--changed-files",
        "eco.py",
        "--changed-files",
        "dsg_platform_mapping.json",
    )
    assert ok.returncode == 0, ok.stdout
    assert "initial check-in" in ok.stdout and "PASS" in ok.stdout
    wrong = validate(
        "--base", str(empty), "--head", str(TEMPLATE), "--source", "acme/datasurface-model@team1", "--format", "json"
    )
    assert wrong.returncode == 1
    assert [f["rule"] for f in json.loads(wrong.stdout)["findings"]] == ["auth-initial-checkin"]


def test_validate_cannot_run_on_bad_arguments(tmp_path: Path) -> None:
    bad_source = validate("--base", str(tmp_path), "--head", str(TEMPLATE), "--source", "not-a-source")
    assert bad_source.returncode == 2 and "OWNER/REPO@BRANCH" in bad_source.stderr
    no_head = validate("--base", str(tmp_path), "--head", str(tmp_path / "missing"), "--source", "a/b@c")
    assert no_head.returncode == 2 and "not a model folder" in no_head.stderr
    no_base = validate("--base", str(tmp_path / "missing"), "--head", str(TEMPLATE), "--source", "a/b@c")
    assert no_base.returncode == 2 and "is not a folder" in no_base.stderr
    for result in (bad_source, no_head, no_base):
        assert "Traceback" not in result.stderr
