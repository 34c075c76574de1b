"""The ``datasurface`` command as a user runs it: exit codes and reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .conftest import TEMPLATE


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # a wide terminal, so table cells are not folded
    return subprocess.run(
        [sys.executable, "-m", "handler.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


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
