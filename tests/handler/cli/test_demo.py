"""The one-command demo, end to end, and the operating commands on what it leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gitrepos import git


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"COLUMNS": "160", "PATH": os.environ["PATH"]},
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("demo")
    result = cli("demo", "--fast", "--duration", "20", "--workdir", str(workdir))
    yield workdir, result
    from pgtools.embedded import start_embedded

    start_embedded(workdir / "pg", cleanup_mode="stop").cleanup()  # the demo leaves it running for people


def query(workdir: Path, database: str, sql: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    from pgtools.urls import psycopg2_url

    urls = json.loads((workdir / "demo.json").read_text())
    engine = create_engine(psycopg2_url(urls[f"{database}_url"]))
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(sql))]
    engine.dispose()
    return rows


def test_the_demo_runs_the_whole_loop(demo) -> None:  # type: ignore[no-untyped-def]
    workdir, result = demo
    failures = [line for line in result.stdout.splitlines() if "failed" in line]
    assert result.returncode == 0, "\n".join(failures) + result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "this change may merge" in out and "must not merge yet" in out and "compat-column-removed" in out
    assert "0 failed" in out
    # The merge step ends with the rollout comment, from the same tracker as on a cluster.
    assert "bot comment on PR #1: rollout" in out and "DataSurface rollout of" in out and ": success" in out
    assert "YellowLive" in out.split("bot comment on PR #1: rollout")[1]
    # The status exporter, scraped: each stream's last-commit age beside its freshness target.
    monitoring = out.split("Monitoring: the status exporter")[1].split("What consumers see")[0]
    assert "scraped the status exporter at http://127.0.0.1:" in monitoring
    rows = {line.split("│")[1].strip(): line for line in monitoring.splitlines() if line.count("│") >= 6}
    assert "900 s" in rows["YellowLive"] and "1260 s" in rows["YellowForensic"] and "never" not in monitoring
    trailers = git(
        workdir,
        "--git-dir",
        str(workdir / "repos" / "deployment.git"),
        "log",
        "--format=%(trailers:key=Model-Commit,valueonly,separator=)",
        "main",
    ).split()
    model_head = git(workdir / "repos" / "model", "rev-parse", "main")
    assert trailers == [model_head]


def test_both_platforms_committed_and_views_match_the_producer(demo) -> None:  # type: ignore[no-untyped-def]
    workdir, _ = demo
    from workflows.sqlnames import platform_schema

    for platform in ("YellowLive", "YellowForensic"):
        committed = query(
            workdir, "merge", f"SELECT count(*) FROM \"{platform_schema(platform)}\".batches WHERE status = 'committed'"
        )[0][0]
        assert committed >= 2, platform
    columns = (
        '"id", "firstName", "lastName", "dob", "email", "phone", "primaryAddressId", "billingAddressId", "loyaltyTier"'
    )
    live = query(workdir, "merge", f"SELECT {columns} FROM consumer1.livedsg_customers ORDER BY id")
    producer = query(workdir, "source", f"SELECT {columns.lower()} FROM customers ORDER BY id")
    assert live == producer and len(live) > 5
    addresses = query(workdir, "merge", 'SELECT id, "city" FROM consumer1.livedsg_addresses ORDER BY id')
    assert addresses == query(workdir, "source", "SELECT id, city FROM addresses ORDER BY id")
    versions = query(
        workdir,
        "merge",
        "SELECT id, count(*) FROM consumer1.forensicdsg_customers_history GROUP BY id HAVING count(*) > 1",
    )
    assert versions, "a changed customer has more than one version in the forensic history"
    # Consumer2 reads the same views from its own database, delivered by logical replication.
    delivered = query(workdir, "consumer", f"SELECT {columns} FROM consumer2.livedsg_customers ORDER BY id")
    assert delivered == live
    history = query(workdir, "consumer", "SELECT count(*) FROM consumer2.forensicdsg_customers_history")
    assert history == query(workdir, "merge", "SELECT count(*) FROM consumer1.forensicdsg_customers_history")


def test_status_reports_fresh_streams_and_alerts_on_stale_ones(demo) -> None:  # type: ignore[no-untyped-def]
    workdir, _ = demo
    merge_url = json.loads((workdir / "demo.json").read_text())["merge_url"]
    fresh = cli(
        "status",
        "--merge-url",
        merge_url,
        "--spec-dir",
        json.loads((workdir / "demo.json").read_text())["deployment"],
        "--format",
        "json",
        "--check",
    )
    assert fresh.returncode == 0, fresh.stderr
    streams = {(s["platform"], s["stream"]): s for s in json.loads(fresh.stdout)["streams"]}
    assert set(streams) == {("YellowLive", "Store1"), ("YellowForensic", "Store1")}
    assert all(s["success_rate"] == 1.0 and not s["stale"] and s["last_committed"] for s in streams.values())
    stale = cli("status", "--merge-url", merge_url, "--max-age", "0", "--check")
    assert stale.returncode == 1 and "stale" in stale.stdout


def test_run_local_refuses_what_it_does_not_understand(tmp_path: Path) -> None:
    from tests.support.template import TEMPLATE

    out = tmp_path / "deploy"
    assert cli("render", "--model", str(TEMPLATE), "--out", str(out)).returncode == 0
    template = out / "platforms" / "yellowlive" / "20-workflowtemplate-snapshot-merge.yaml"
    template.write_text(template.read_text().replace("  podGC:", "  hostNetwork: true\n  podGC:"))
    result = cli("run-local", "--deployment", str(out), "--once")
    assert result.returncode == 2 and "does not support ['hostNetwork']" in result.stderr
