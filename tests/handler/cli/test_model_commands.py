"""``datasurface lint``, ``validate``, ``model-json`` and ``init`` as a user runs them: exit codes and reports."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.gitrepos import git
from tests.support.template import TEMPLATE


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("lint", "model-json", "version"):
        assert command in result.stdout


def test_lint_template_is_clean_with_a_readable_report() -> None:
    result = run("lint", str(TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clean (0 errors, 0 warnings)" in result.stdout


def test_lint_json_report_of_a_broken_model(model_dir: Callable[[str], Path]) -> None:
    source = (
        (TEMPLATE / "eco.py")
        .read_text()
        .replace('DDLColumn("email", VarChar(100))', 'DDLColumn("select", VarChar(100))')
    )
    folder = model_dir(source)
    result = run("lint", str(folder), "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["findings"] == [
        {
            "rule": "identifier-reserved",
            "severity": "error",
            "path": "zone:USA/team:team1/store:Store1/dataset:customers/column:select",
            "message": "column name 'select' is an SQL reserved word",
        }
    ]


def test_lint_text_and_markdown_name_rule_path_and_fix(model_dir: Callable[[str], Path]) -> None:
    folder = model_dir("def createEcosystem():\n    raise ValueError('no zones yet')\n")
    text = run("lint", str(folder))
    assert text.returncode == 1
    assert "load-exception" in text.stdout and "eco.py:2" in text.stdout and "1 error" in text.stdout
    markdown = run("lint", str(folder), "--format", "markdown")
    assert markdown.returncode == 1
    assert "| error | `load-exception` | `file:eco.py:2` |" in markdown.stdout
    assert "Fix the code at the file and line shown" in markdown.stdout


def test_lint_cannot_run_without_a_model_folder(tmp_path: Path) -> None:
    missing = run("lint", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    empty = run("lint", str(tmp_path))
    assert empty.returncode == 2 and "has no eco.py" in empty.stderr
    assert "Traceback" not in missing.stderr + empty.stderr


def test_model_json_is_canonical_and_stable(tmp_path: Path) -> None:
    first, second = run("model-json", str(TEMPLATE)), run("model-json", str(TEMPLATE))
    assert first.returncode == 0
    assert first.stdout == second.stdout
    data = json.loads(first.stdout)
    assert data["name"] == "Acme" and [p["name"] for p in data["data_platforms"]] == ["YellowForensic", "YellowLive"]


# --- validate ---------------------------------------------------------------------------


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("validate", *args)


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


# --- init -------------------------------------------------------------------------------


def test_init_starts_a_model_repository_that_lints_clean(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    result = run("init", str(folder))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in folder.iterdir()} >= {"eco.py", "dsg_platform_mapping.json", "README.md", ".github"}
    assert (folder / ".github" / "workflows" / "validate.yml").is_file()
    assert run("lint", str(folder)).returncode == 0
    again = run("init", str(folder))
    assert again.returncode == 2 and "not an empty folder" in again.stderr


# --- failing closed --------------------------------------------------------------------------------


def test_lint_refuses_to_run_a_model_without_the_full_sandbox(tmp_path: Path) -> None:
    pretend = {"DATASURFACE_SANDBOX_PRETEND_MISSING": "landlock"}
    refused = run_cli("lint", str(TEMPLATE), env=pretend)
    assert refused.returncode == 1 and "load-sandbox-unavailable" in refused.stdout
    allowed = run_cli("lint", str(TEMPLATE), "--allow-unsandboxed", env=pretend)
    assert allowed.returncode == 0 and "WITHOUT the full sandbox" in allowed.stderr
    assert "load-unsandboxed" in allowed.stdout


def test_a_report_of_an_unsandboxed_validation_says_so_at_the_top(tmp_path: Path) -> None:
    out, empty = tmp_path / "report.md", tmp_path / "empty"
    empty.mkdir()
    result = run_cli(
        "validate",
        "--base",
        str(empty),
        "--head",
        str(TEMPLATE),
        "--source",
        "acme/datasurface-model@main",
        "--changed-files",
        "eco.py",
        "--format",
        "markdown",
        "--out",
        str(out),
        "--allow-unsandboxed",
        env={"DATASURFACE_SANDBOX_PRETEND_MISSING": "seccomp"},
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("> ⚠️ **The model code ran WITHOUT the full sandbox")
