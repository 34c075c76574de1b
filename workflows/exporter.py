"""The status exporter: the figures of ``workflows/status.py`` as Prometheus metrics, read from the
merge database on each scrape (``datasurface status --serve``; rendered per platform).

Names are stable and carry their unit; labels are ``platform``, ``stream``, ``dataset`` and
``workspace`` (and a small fixed set: ``outcome``, ``change``), never a batch id. Workspaces with
their own consumer database add its delivery figures (workflows/consumer_status.py). docs/operations.md lists them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from workflows.consumer_status import ConsumerStatus, collect_consumers, consumer_databases
from workflows.pg import Database
from workflows.runs import OUTCOMES
from workflows.spec import JobSpec
from workflows.status import StreamStatus, collect

STREAM = ["platform", "stream"]
DATASET = [*STREAM, "dataset"]
CHANGES = ("inserted", "updated", "deleted")


def _stream_gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"datasurface_stream_{name}", documentation, labels=STREAM)


class _Families:
    """One scrape's metric families."""

    def __init__(self) -> None:
        self.up = GaugeMetricFamily(
            "datasurface_merge_database_up", "1 when the exporter could read the merge database", labels=["platform"]
        )
        self.info = GaugeMetricFamily(
            "datasurface_stream_info", "A stream the platform runs (value 1)", labels=[*STREAM, "namespace"]
        )
        self.target = _stream_gauge(
            "freshness_target_seconds",
            "How old the stream's last commit may be (from the consumers' latency and the schedule)",
        )
        self.last_commit = _stream_gauge(
            "last_commit_timestamp_seconds",
            "When the stream's last committed batch committed (Unix time); absent before the first",
        )
        self.age = _stream_gauge(
            "last_commit_age_seconds",
            "Seconds since the stream's last committed batch committed; absent before the first",
        )
        self.first_seen = _stream_gauge(
            "first_seen_timestamp_seconds",
            "The first batch or run of the stream, or when this exporter first saw it (Unix time)",
        )
        self.batches = SummaryMetricFamily(
            "datasurface_batch_duration_seconds",
            "Committed batches and their durations, from start to commit (keep-working pauses included)",
            labels=STREAM,
        )
        self.last_duration = _stream_gauge(
            "last_batch_duration_seconds", "Start to commit of the stream's last committed batch"
        )
        self.runs = CounterMetricFamily(
            "datasurface_runs", "Snapshot-merge runs by outcome", labels=[*STREAM, "outcome"]
        )
        self.failures = _stream_gauge(
            "consecutive_failed_runs", "Runs that ended in error since the stream's last good run"
        )
        self.running = _stream_gauge("running", "1 while a run holds the stream's lock")
        self.open_age = _stream_gauge(
            "open_batch_age_seconds",
            "Seconds since the stream's uncommitted batch started (0 when every batch committed)",
        )
        self.keep_working = _stream_gauge(
            "open_batch_keep_working_runs", "Runs that paused the open batch with more to merge (keep-working loops)"
        )
        self.rows = GaugeMetricFamily(
            "datasurface_dataset_rows", "Rows of the dataset after the last committed batch", labels=DATASET
        )
        self.last_changed = GaugeMetricFamily(
            "datasurface_dataset_last_batch_rows",
            "Rows the last committed batch inserted, updated or deleted",
            labels=[*DATASET, "change"],
        )
        self.changed = CounterMetricFamily(
            "datasurface_dataset_rows_changed",
            "Rows inserted, updated or deleted by committed batches",
            labels=[*DATASET, "change"],
        )

        workspace = ["platform", "workspace"]
        self.consumer_up = GaugeMetricFamily(
            "datasurface_consumer_database_up",
            "1 when the exporter could read the workspace's own consumer database",
            labels=workspace,
        )
        self.consumer_active = GaugeMetricFamily(
            "datasurface_consumer_replication_active",
            "1 while the consumer database's subscription streams from the merge database's replication slot",
            labels=workspace,
        )
        self.consumer_lag_bytes = GaugeMetricFamily(
            "datasurface_consumer_replication_lag_bytes",
            "Bytes of the merge database's changes the consumer database's subscription has not confirmed",
            labels=workspace,
        )
        self.consumer_age = GaugeMetricFamily(
            "datasurface_consumer_last_commit_age_seconds",
            "Seconds since the stream's newest batch in the workspace's consumer database committed",
            labels=[*STREAM, "workspace"],
        )
        self.consumer_lag = GaugeMetricFamily(
            "datasurface_consumer_lag_seconds",
            "How long the oldest committed batch the consumer database lacks has waited (0 when it has all)",
            labels=[*STREAM, "workspace"],
        )

    def add_consumer(self, c: ConsumerStatus, first: bool) -> None:
        """``first``: the first stream of this workspace's delivery (its database-wide figures once)."""
        if first:
            key = [c.platform, c.workspace]
            self.consumer_up.add_metric(key, float(c.reachable))
            self.consumer_active.add_metric(key, float(c.replication_active))
            if c.lag_bytes is not None:
                self.consumer_lag_bytes.add_metric(key, c.lag_bytes)
        skey = [c.platform, c.stream, c.workspace]
        if c.age_seconds is not None:
            self.consumer_age.add_metric(skey, c.age_seconds)
        if c.lag_seconds is not None:
            self.consumer_lag.add_metric(skey, c.lag_seconds)

    def add(self, s: StreamStatus, first_sight: float) -> None:
        key = [s.platform, s.stream]
        self.info.add_metric([*key, s.namespace], 1)
        self.target.add_metric(key, s.max_age_seconds)
        if s.last_commit_at is not None and s.age_seconds is not None:
            self.last_commit.add_metric(key, s.last_commit_at.timestamp())
            self.age.add_metric(key, s.age_seconds)
        seen = [first_sight] + ([s.first_seen.timestamp()] if s.first_seen else [])
        self.first_seen.add_metric(key, min(seen))
        self.batches.add_metric(key, count_value=s.committed_batches, sum_value=s.batch_seconds_total)
        if s.last_batch_seconds is not None:
            self.last_duration.add_metric(key, s.last_batch_seconds)
        for outcome in OUTCOMES:
            self.runs.add_metric([*key, outcome], s.runs.get(outcome, 0))
        self.failures.add_metric(key, s.consecutive_failures)
        self.running.add_metric(key, float(s.running))
        self.open_age.add_metric(key, s.open_batch_age_seconds or 0.0)
        self.keep_working.add_metric(key, s.keep_working_runs)
        for d in s.datasets:
            dkey = [*key, d.dataset]
            if d.rows is not None:
                self.rows.add_metric(dkey, d.rows)
            for change in CHANGES:
                self.last_changed.add_metric([*dkey, change], getattr(d, f"last_{change}"))
                self.changed.add_metric([*dkey, change], getattr(d, f"{change}_total"))

    def __iter__(self) -> Iterator[Any]:
        return iter(vars(self).values())


class StatusCollector(Collector):
    """Collects on each scrape; when the database cannot be read, the scrape still answers, with
    ``datasurface_merge_database_up`` 0 for the platforms of the specs."""

    def __init__(self, merge_db: Database, specs: list[JobSpec]) -> None:
        self.merge_db, self.specs = merge_db, specs
        self.consumer_databases = consumer_databases("datasurface-status")
        self._first_sight: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Any]:
        families = _Families()
        platforms = sorted({s.platform for s in self.specs})
        try:
            statuses = collect(self.merge_db, self.specs)
            consumers = collect_consumers(self.merge_db, self.specs, self.consumer_databases)
        except Exception:  # noqa: BLE001 - a scrape reports the database as down rather than failing
            for platform in platforms:
                families.up.add_metric([platform], 0)
            yield families.up
            return
        now = time.time()
        with self._lock:
            for s in statuses:
                self._first_sight.setdefault((s.platform, s.stream), now)
        for platform in sorted(platforms or {s.platform for s in statuses}):
            families.up.add_metric([platform], 1)
        for s in statuses:
            families.add(s, self._first_sight[(s.platform, s.stream)])
        seen: set[tuple[str, str]] = set()
        for c in consumers:
            families.add_consumer(c, (c.platform, c.workspace) not in seen)
            seen.add((c.platform, c.workspace))
        yield from families


def serve(merge_db: Database, specs: list[JobSpec], port: int, address: str = "0.0.0.0") -> tuple[Any, Any]:  # noqa: S104
    """Serve the metrics on ``address:port`` in a background thread; returns (server, thread)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(StatusCollector(merge_db, specs))
    return start_http_server(port, addr=address, registry=registry)
