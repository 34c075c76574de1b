"""The local runner executes rendered workflows as written: retries, exit handlers, mutexes."""

from __future__ import annotations

from pathlib import Path

from handler.render import render_tree, write_tree
from tests.support.template import build_template_ecosystem
from workflows.local_runner import Deployment, LocalRunner, Secrets

DEAD = "postgresql://nobody@127.0.0.1:9/nowhere"
SECRETS = Secrets({name: {"username": "u", "password": "p"} for name in ("postgres-merge", "postgres-producer")})


def runner(tmp_path: Path) -> LocalRunner:
    write_tree(render_tree(build_template_ecosystem()), tmp_path / "deploy")
    env = {"DATASURFACE_SOURCE_URL": DEAD, "DATASURFACE_MERGE_URL": DEAD}
    return LocalRunner(Deployment(tmp_path / "deploy"), SECRETS, env, tmp_path, time_scale=1000)


def test_transient_failures_are_retried_with_backoff_then_the_exit_handler_runs(tmp_path: Path) -> None:
    local = runner(tmp_path)
    cron = next(c for c in local.deployment.crons if c["metadata"]["namespace"] == "ds-yellowlive")
    run = local.run_cron(cron)
    assert run is not None and run.status == "Failed"
    merge, notify = run.steps[0], run.steps[-1]
    assert merge.template == "snapshot-merge" and merge.exit_code == 75 and merge.attempts == 4  # retryStrategy limit 3
    assert notify.template == "notify" and notify.exit_code == 0  # no webhook secret: no notification, no failure
    assert "no DATASURFACE_NOTIFY_URL" in notify.log
    assert run.failures and run.failures[0]["displayName"] == "snapshot-merge"


def test_a_permanent_failure_is_not_retried(tmp_path: Path) -> None:
    local = runner(tmp_path)
    local.env["DATASURFACE_MERGE_URL"] = "mysql://nobody@127.0.0.1/x"  # a configuration error: exit 1
    cron = next(c for c in local.deployment.crons if c["metadata"]["namespace"] == "ds-yellowlive")
    run = local.run_cron(cron)
    assert run is not None and run.steps[0].exit_code == 1 and run.steps[0].attempts == 1
