"""The GitHub Actions' scripts, run as the Actions run them (``.github/actions/*/``), in a real
repository shaped as GitHub shapes it for the event."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.gitrepos import ModelRepo, add_column, git

ROOT = Path(__file__).resolve().parent.parent
VALIDATE = ROOT / ".github" / "actions" / "validate" / "validate.sh"


def add_country(text: str) -> str:
    zipcode = 'DDLColumn("zipCode", VarChar(30), **NOT_NULL),'
    return text.replace(zipcode, zipcode + '\n                            DDLColumn("country", VarChar(40)),')


def run_validate(checkout: Path, tmp: Path, **env: str) -> tuple[int, dict[str, str], str]:
    runner = tmp / "runner"
    runner.mkdir(exist_ok=True)
    outputs, summary = runner / "output", runner / "summary"
    variables = {
        **os.environ,
        "RUNNER_TEMP": str(runner),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "MODEL_PATH": ".",
        "HEAD_REPO": "acme/datasurface-model",
        "HEAD_REF": "team1",
        "EVENT": "pull_request",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **env,
    }
    result = subprocess.run(
        ["bash", str(VALIDATE)], cwd=checkout, env=variables, capture_output=True, text=True, timeout=300, check=False
    )
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines()) if outputs.exists() else {}
    return (
        result.returncode,
        values,
        (runner / "datasurface-report.md").read_text()
        if (runner / "datasurface-report.md").exists()
        else result.stderr,
    )


def github_merge_checkout(model: ModelRepo, tmp: Path, number: int) -> Path:
    """What actions/checkout checks out for a pull_request event: GitHub's merge of the head into
    the base branch as it is now (refs/pull/N/merge), with its history."""
    git(model.work, "checkout", "-q", "--detach", "main")
    git(model.work, "merge", "-q", "--no-ff", "-m", f"Merge {number}", "team1")
    merge = git(model.work, "rev-parse", "HEAD")
    checkout = tmp / "checkout"
    git(tmp, "clone", "-q", str(model.work), str(checkout))
    git(checkout, "checkout", "-q", "--detach", merge)
    return checkout


def test_the_action_judges_the_merge_result_not_the_stale_branch(tmp_path: Path) -> None:
    """Main adds addresses.country after the branch point; the pull request adds loyaltyTier.
    Judged as the branch was cut, main's new column would look removed by the pull request."""
    model = ModelRepo(tmp_path)
    old_base = model.sha("main")
    model.branch("team1")
    model.change(add_column("loyaltyTier"), "add loyaltyTier")
    model.branch("main")
    model.change(add_country, "main adds addresses.country")
    checkout = github_merge_checkout(model, tmp_path, 7)
    code, outputs, report = run_validate(checkout, tmp_path, BASE_SHA=old_base)
    assert code == 0 and outputs["verdict"] == "pass", report
    assert outputs["base"] == model.sha("main")
    assert "compat-column-removed" not in report and "column:loyaltyTier" in report


def test_the_action_still_catches_what_the_pull_request_itself_breaks(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    model.branch("team1")
    model.change(
        lambda t: t.replace('                            DDLColumn("phone", VarChar(100)),\n', ""), "drop phone"
    )
    model.branch("main")
    model.change(add_country, "main moves")
    code, outputs, report = run_validate(
        github_merge_checkout(model, tmp_path, 8), tmp_path, BASE_SHA=model.sha("main")
    )
    assert code == 0 and outputs["verdict"] == "fail"
    assert "compat-column-removed" in report and "column:country" not in report


def test_a_merge_queue_commit_is_judged_without_a_pull_request_source(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    model.branch("team1")
    model.change(add_column("nickname"), "a queued change")
    checkout = github_merge_checkout(model, tmp_path, 9)
    code, outputs, report = run_validate(checkout, tmp_path, EVENT="merge_group", BASE_SHA=model.sha("main"))
    assert code == 0 and outputs["verdict"] == "pass", report
