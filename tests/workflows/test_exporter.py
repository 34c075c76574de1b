"""The status exporter (``workflows/exporter.py``): the operating figures as Prometheus metrics,
scraped over HTTP the way Prometheus does, and an answer even when the database is down."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.merge_stack import mvp_spec
from tests.support.pg import PostgresServer
from tests.support.service_env import free_port
from tests.workflows.test_status import add_batch
from workflows.batch import COMMITTED, INGESTED
from workflows.db import database_at
from workflows.exporter import serve
from workflows.outcome import Outcome
from workflows.pg import Database
from workflows.runs import record_run
from workflows.spec import JobSpec
from workflows.sqlnames import platform_schema


@pytest.fixture
def merge(postgres: PostgresServer) -> Database:
    return database_at(postgres.url(postgres.create_database("merge")), "tests")


def scrape(engine: Database, specs: list[JobSpec]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Start the exporter, scrape /metrics once over HTTP: {(sample name, sorted labels): value}."""
    port = free_port()
    server, thread = serve(engine, specs, port, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            body = response.read().decode()
    finally:
        server.shutdown()
        thread.join(5)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_each_streams_freshness_batches_runs_and_rows(merge: Database) -> None:
    live, forensic = mvp_spec("YellowLive"), mvp_spec("YellowForensic")
    add_batch(merge, live, COMMITTED, {"customers": (10, 0, 0, 10)}, age=50)
    add_batch(merge, live, COMMITTED, {"customers": (4, 5, 6, 8)}, age=10)
    record_run(merge, platform_schema("YellowLive"), Outcome("done", "Store1", 2), datetime.now(UTC))
    record_run(merge, platform_schema("YellowLive"), Outcome("error", "Store1", error="boom"), datetime.now(UTC))
    open_batch = add_batch(merge, forensic, INGESTED, {})
    record_run(
        merge, platform_schema("YellowForensic"), Outcome("keep_working", "Store1", open_batch), datetime.now(UTC)
    )
    samples = scrape(merge, [live, forensic])
    live_key = {"platform": "YellowLive", "stream": "Store1"}
    forensic_key = {"platform": "YellowForensic", "stream": "Store1"}
    assert value(samples, "datasurface_merge_database_up", platform="YellowLive") == 1
    assert value(samples, "datasurface_stream_info", **live_key, namespace="ds-yellowlive") == 1
    assert value(samples, "datasurface_stream_freshness_target_seconds", **live_key) == 900
    assert value(samples, "datasurface_stream_freshness_target_seconds", **forensic_key) == 1260
    assert 9 <= value(samples, "datasurface_stream_last_commit_age_seconds", **live_key) < 60
    assert (
        abs(
            value(samples, "datasurface_stream_last_commit_timestamp_seconds", **live_key)
            - (datetime.now(UTC).timestamp() - 10)
        )
        < 30
    )
    assert value(samples, "datasurface_stream_last_commit_age_seconds", **forensic_key) is None  # never committed
    assert value(samples, "datasurface_stream_first_seen_timestamp_seconds", **forensic_key) is not None
    assert value(samples, "datasurface_batch_duration_seconds_count", **live_key) == 2
    assert value(samples, "datasurface_batch_duration_seconds_count", **forensic_key) == 0
    assert value(samples, "datasurface_runs_total", **live_key, outcome="done") == 1
    assert value(samples, "datasurface_runs_total", **live_key, outcome="error") == 1
    assert value(samples, "datasurface_runs_total", **live_key, outcome="locked") == 0
    assert value(samples, "datasurface_stream_consecutive_failed_runs", **live_key) == 1
    assert value(samples, "datasurface_stream_open_batch_keep_working_runs", **forensic_key) == 1
    assert value(samples, "datasurface_stream_open_batch_age_seconds", **forensic_key) >= 0
    assert value(samples, "datasurface_stream_open_batch_age_seconds", **live_key) == 0
    assert value(samples, "datasurface_stream_running", **live_key) == 0
    assert value(samples, "datasurface_dataset_rows", **live_key, dataset="customers") == 8
    assert value(samples, "datasurface_dataset_last_batch_rows", **live_key, dataset="customers", change="updated") == 5
    assert (
        value(samples, "datasurface_dataset_rows_changed_total", **live_key, dataset="customers", change="inserted")
        == 14
    )
    # Low cardinality: no label carries a batch id.
    assert {k for (_name, labels) in samples for k, _v in labels} <= {
        "platform",
        "stream",
        "dataset",
        "namespace",
        "outcome",
        "change",
        "quantile",
    }


def test_a_scrape_answers_with_the_database_down() -> None:
    dead = database_at("postgresql://nobody@127.0.0.1:1/none", "tests", connect_timeout=2)
    samples = scrape(dead, [mvp_spec("YellowLive")])
    assert value(samples, "datasurface_merge_database_up", platform="YellowLive") == 0
    assert not any(name.startswith("datasurface_stream") for name, _ in samples)
