"""The operating view (``workflows/status.py``): per stream, its last batch, age, counts, success
rate and freshness, recent runs, from the merge database's bookkeeping tables, as text, JSON and metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from msgspec.structs import replace

from handler.render import render_tree, write_tree
from tests.support.cli import run_cli
from tests.support.merge_stack import mvp_spec
from tests.support.pg import PostgresServer
from tests.support.template import build_template_ecosystem
from workflows import status
from workflows.batch import COMMITTED, INGESTED, BatchStore
from workflows.db import database_at
from workflows.outcome import Outcome
from workflows.pg import Database, text
from workflows.runs import KEPT_RUNS, record_run
from workflows.spec import JobSpec
from workflows.sqlnames import platform_schema


@pytest.fixture
def merge(postgres: PostgresServer) -> Database:
    return database_at(postgres.url(postgres.create_database("merge")), "tests")


def add_batch(
    engine: Database, spec: JobSpec, state: str, counts: dict[str, tuple[int, int, int, int]], age: float = 0
) -> int:
    """A batch of ``spec``'s stream in ``state``, with metrics per dataset, committed ``age`` seconds ago."""
    store = BatchStore(platform_schema(spec.platform), spec.stream)
    with store.locked(engine), engine.begin() as conn:
        batch = store.start(conn)
        for dataset, (inserted, updated, deleted, total) in counts.items():
            store.record_metrics(
                conn, batch, dataset, {"inserted": inserted, "updated": updated, "deleted": deleted, "total": total}
            )
        store.set_state(conn, batch, state, {})
        conn.execute(
            text(
                f'UPDATE "{platform_schema(spec.platform)}".batches SET ended_at = ended_at - make_interval(secs => :age) '
                "WHERE stream = :s AND batch_id = :b"
            ),
            {"age": age, "s": spec.stream, "b": batch.batch_id},
        )
    return batch.batch_id


def record(engine: Database, spec: JobSpec, outcome: str, batch: int | None = None, error: str | None = None) -> None:
    record_run(
        engine,
        platform_schema(spec.platform),
        Outcome(outcome, spec.stream, batch, error=error, locked=outcome == "locked"),
        datetime.now(UTC),
    )


def test_a_stream_that_never_committed_is_stale(merge: Database) -> None:
    (never,) = status.collect(merge, [mvp_spec("YellowLive")])
    assert (never.platform, never.stream, never.last_batch, never.age_seconds) == ("YellowLive", "Store1", None, None)
    assert never.stale and not never.failing and never.success_rate is None and never.first_seen is None


def test_last_committed_batch_gives_counts_age_and_freshness(merge: Database) -> None:
    live = mvp_spec("YellowLive")
    add_batch(merge, live, COMMITTED, {"customers": (5, 0, 0, 5), "addresses": (8, 0, 0, 8)}, age=100)
    second = add_batch(merge, live, COMMITTED, {"customers": (1, 2, 3, 3), "addresses": (0, 1, 0, 8)}, age=30)
    (fresh,) = status.collect(merge, [live])
    assert fresh.last_batch == fresh.last_committed == second
    assert (fresh.inserted, fresh.updated, fresh.deleted) == (1, 3, 3)  # summed over the batch's datasets
    # The template's consumers ask for MINUTES (15 min), looser than the every-minute schedule's floor.
    assert 29 <= fresh.age_seconds <= 60 and fresh.max_age_seconds == live.freshness_seconds == 900
    assert not fresh.stale and fresh.committed_batches == 2
    by_name = {d.dataset: d for d in fresh.datasets}
    assert (by_name["customers"].rows, by_name["customers"].inserted_total, by_name["addresses"].updated_total) == (
        3,
        6,
        1,
    )


def test_a_stream_whose_last_commit_is_older_than_its_target_is_stale(merge: Database) -> None:
    live = mvp_spec("YellowLive")
    add_batch(merge, live, COMMITTED, {"customers": (1, 0, 0, 1)}, age=1000)
    (old,) = status.collect(merge, [live])
    assert old.stale and old.age_seconds >= 1000


def test_the_newest_unfinished_batch_is_open_not_failed(merge: Database) -> None:
    live = mvp_spec("YellowLive")
    committed = add_batch(merge, live, COMMITTED, {"customers": (1, 0, 0, 1)})
    running = add_batch(merge, live, INGESTED, {})
    record(merge, live, "keep_working", running)
    record(merge, live, "keep_working", running)
    (stream,) = status.collect(merge, [live])
    assert (stream.last_batch, stream.last_status, stream.last_committed) == (running, INGESTED, committed)
    assert not stream.failing and stream.success_rate == 1.0
    assert stream.keep_working_runs == 2 and stream.open_batch_age_seconds is not None
    assert stream.committed_batches == 1  # the open batch is not counted until it commits


def test_runs_that_end_in_error_make_the_stream_failing_until_one_succeeds(merge: Database) -> None:
    live = mvp_spec("YellowLive")
    add_batch(merge, live, COMMITTED, {"customers": (1, 0, 0, 1)})
    record(merge, live, "done", 1)
    record(merge, live, "error", error="OperationalError: connection refused")
    record(merge, live, "locked")  # another run held the stream: neither good nor bad
    record(merge, live, "error", error="OperationalError: connection refused again")
    (failing,) = status.collect(merge, [live])
    assert failing.failing and failing.consecutive_failures == 2
    assert failing.last_error == "OperationalError: connection refused again"
    assert failing.success_rate == 1 / 3 and failing.runs == {"done": 1, "error": 2, "locked": 1}
    record(merge, live, "done", 2)
    (recovered,) = status.collect(merge, [live])
    assert not recovered.failing and recovered.consecutive_failures == 0 and recovered.last_error is None


def test_only_the_latest_runs_are_kept_but_counts_are_not_lost(merge: Database) -> None:
    live = mvp_spec("YellowLive")
    add_batch(merge, live, COMMITTED, {})
    for _ in range(KEPT_RUNS + 5):
        record(merge, live, "done", 1)
    kept = merge.connect().execute(text(f'SELECT count(*) FROM "{platform_schema("YellowLive")}".runs')).scalar()
    (stream,) = status.collect(merge, [live])
    assert kept == KEPT_RUNS and stream.runs == {"done": KEPT_RUNS + 5}


def test_a_run_holding_the_streams_lock_shows_as_running(merge: Database) -> None:
    live, forensic = mvp_spec("YellowLive"), mvp_spec("YellowForensic")
    store = BatchStore(platform_schema(live.platform), live.stream)
    with store.locked(merge) as acquired:
        assert acquired
        running = {s.platform: s.running for s in status.collect(merge, [live, forensic])}
    assert running == {"YellowLive": True, "YellowForensic": False}
    assert not any(s.running for s in status.collect(merge, [live, forensic]))


def test_without_specs_every_platform_schema_is_listed(merge: Database) -> None:
    add_batch(merge, mvp_spec("YellowLive"), COMMITTED, {"customers": (1, 0, 0, 1)})
    add_batch(merge, mvp_spec("YellowForensic"), COMMITTED, {"customers": (2, 0, 0, 2)})
    found = {(s.platform, s.stream, s.max_age_seconds) for s in status.collect(merge, [], default_max_age=600)}
    assert found == {
        (platform_schema("YellowLive"), "Store1", 600),
        (platform_schema("YellowForensic"), "Store1", 600),
    }


def test_specs_come_from_a_rendered_deployment_tree(tmp_path: Path) -> None:
    write_tree(render_tree(build_template_ecosystem()), tmp_path)
    specs = status.specs_from(tmp_path)
    assert sorted((s.platform, s.stream, s.schedule, s.freshness_target) for s in specs) == [
        ("YellowForensic", "Store1", "*/10 * * * *", 1260),  # the schedule's floor is above MINUTES' 15 min
        ("YellowLive", "Store1", "*/1 * * * *", 900),
    ]


def test_recent_batches_list_each_datasets_figures(merge: Database) -> None:
    live = mvp_spec("YellowLive")
    for n in range(4):
        add_batch(merge, live, COMMITTED, {"customers": (n, 0, 0, n)})
    recent = status.recent_batches(merge, "YellowLive", batches=2)
    assert [(b.batch_id, b.dataset, b.inserted) for b in recent] == [(3, "customers", 2), (4, "customers", 3)]


def test_json_report_lists_every_stream() -> None:
    report = status.to_json(
        [status.StreamStatus("P", "S", "ns", 1, COMMITTED, 1, None, 5.0, 1, 2, 3, 1.0, 180.0, False, False)]
    )
    assert '"stream": "S"' in report and '"stale": false' in report


def test_specs_from_a_mounted_configmap_skip_the_hidden_copies_kubernetes_keeps(tmp_path: Path) -> None:
    """A ConfigMap volume holds ``..<timestamp>/<key>``, ``..data`` -> it, and ``<key>`` -> ``..data/<key>``."""
    live = mvp_spec("YellowLive")
    stamp = tmp_path / "..2026_11_26_05_00_00.123"
    stamp.mkdir()
    (stamp / "Store1.json").write_text(live.to_json())
    (tmp_path / "..data").symlink_to(stamp.name)
    (tmp_path / "Store1.json").symlink_to("..data/Store1.json")
    assert [(s.platform, s.stream) for s in status.specs_from(tmp_path)] == [("YellowLive", "Store1")]


def test_the_text_table_shows_names_as_written_not_as_markup(postgres: PostgresServer, tmp_path: Path) -> None:
    hostile = replace(mvp_spec("YellowLive"), platform="[bold]Yellow[/bold]", stream="[link=x]S[/link]")
    (tmp_path / "spec.json").write_text(hostile.to_json())
    result = run_cli(
        "status", "--spec-dir", str(tmp_path), "--merge-url", postgres.url(postgres.create_database("merge"))
    )
    assert result.returncode == 0, result.stderr
    cells = "".join(ch for ch in result.stdout if not ch.isspace() and ch not in "│┃")  # the table may wrap names
    assert "[bold]Yellow[/bold]" in cells and "[link=x]S[/link]" in cells
