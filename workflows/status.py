"""Operating view of the data plane: per platform and stream, the last batch, its age, its
counts, the success rate of recent batches, and whether the stream is fresh enough.

Streams come from job specs (a folder of spec JSON files, or a rendered deployment tree) so that
each has its platform name and schedule; without specs, every platform schema in the merge
database is listed under its schema name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter
from sqlalchemy import text
from sqlalchemy.engine import Engine

from workflows.spec import JobSpec
from workflows.sqlnames import platform_schema, quote
from workflows.tables import bookkeeping

RECENT = 20


@dataclass
class StreamStatus:
    platform: str
    stream: str
    last_batch: int | None
    last_status: str | None
    last_committed: int | None
    age_seconds: float | None  # since the last committed batch ended
    inserted: int
    updated: int
    deleted: int
    success_rate: float | None  # of recent finished batches
    max_age_seconds: float
    stale: bool
    failing: bool


def specs_from(folder: Path) -> list[JobSpec]:
    """Job specs from spec JSON files or from a rendered deployment tree's ConfigMaps."""
    specs = [
        JobSpec.model_validate_json(path.read_text())
        for path in sorted(folder.rglob("*.json"))
        if path.parent.name != ".datasurface"
    ]
    for path in sorted(folder.rglob("*job-specs.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ConfigMap":
                specs.extend(JobSpec.model_validate_json(v) for v in doc.get("data", {}).values())
    return specs


def freshness_limit(schedule: str) -> float:
    """A stream is stale when its last commit is older than two schedule intervals plus a minute."""
    first = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    a = first.get_next(datetime)
    b = first.get_next(datetime)
    return 2 * (b - a).total_seconds() + 60


def _streams(engine: Engine, specs: list[JobSpec], default_max_age: float) -> Iterator[tuple[str, str, str, float]]:
    if specs:
        for spec in specs:
            yield spec.platform, platform_schema(spec.platform), spec.stream, freshness_limit(spec.schedule)
        return
    with engine.connect() as conn:
        schemas = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables WHERE table_name = 'batches' AND table_schema LIKE 'ds\\_%' ORDER BY 1"
                )
            )
        ]
        for schema in schemas:
            for (stream,) in conn.execute(text(f"SELECT DISTINCT stream FROM {quote(schema)}.batches ORDER BY 1")):
                yield schema, schema, stream, default_max_age


def collect(engine: Engine, specs: list[JobSpec], default_max_age: float = 900.0) -> list[StreamStatus]:
    now = datetime.now(UTC)
    result = []
    with engine.connect() as conn:
        for platform, schema, stream, max_age in _streams(engine, specs, default_max_age):
            exists = conn.execute(
                text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s AND table_name = 'batches'"),
                {"s": schema},
            ).first()
            rows = (
                conn.execute(
                    text(
                        f"SELECT batch_id, status, ended_at FROM {quote(schema)}.batches WHERE stream = :st ORDER BY batch_id DESC LIMIT {RECENT}"
                    ),
                    {"st": stream},
                ).all()
                if exists
                else []
            )
            committed = [r for r in rows if r.status == "committed"]
            last = rows[0] if rows else None
            totals = {"inserted": 0, "updated": 0, "deleted": 0}
            if committed:
                metrics = conn.execute(
                    text(
                        f"SELECT coalesce(sum(inserted), 0), coalesce(sum(updated), 0), coalesce(sum(deleted), 0) FROM {quote(schema)}.batch_metrics "
                        "WHERE stream = :st AND batch_id = :b"
                    ),
                    {"st": stream, "b": committed[0].batch_id},
                ).one()
                totals = dict(zip(("inserted", "updated", "deleted"), (int(v) for v in metrics), strict=True))
            finished = (
                rows[1:] if last is not None and last.status != "committed" else rows
            )  # the newest may be running
            age = (now - committed[0].ended_at).total_seconds() if committed else None
            stale = age is None or age > max_age
            failing = bool(finished) and finished[0].status != "committed"
            result.append(
                StreamStatus(
                    platform=platform,
                    stream=stream,
                    last_batch=last.batch_id if last else None,
                    last_status=last.status if last else None,
                    last_committed=committed[0].batch_id if committed else None,
                    age_seconds=age,
                    **totals,
                    success_rate=(sum(1 for r in finished if r.status == "committed") / len(finished))
                    if finished
                    else None,
                    max_age_seconds=max_age,
                    stale=stale,
                    failing=failing,
                )
            )
    return result


@dataclass(frozen=True)
class DatasetBatch:
    """One dataset's figures in one batch of a platform."""

    stream: str
    batch_id: int
    status: str
    dataset: str
    inserted: int
    updated: int
    deleted: int
    total: int


def recent_batches(engine: Engine, platform: str, batches: int = 3) -> list[DatasetBatch]:
    """The datasets of the platform's last ``batches`` batches (across its streams), oldest first."""
    t = bookkeeping(platform_schema(platform))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT b.stream, b.batch_id, b.status, m.dataset, m.inserted, m.updated, m.deleted, m.total "
                f"FROM {t['batches']} b JOIN {t['batch_metrics']} m USING (stream, batch_id) "
                f"WHERE b.batch_id > (SELECT max(batch_id) - :n FROM {t['batches']}) ORDER BY b.batch_id, b.stream, m.dataset"
            ),
            {"n": batches},
        ).all()
    return [DatasetBatch(*row) for row in rows]


def to_json(statuses: list[StreamStatus]) -> str:
    return json.dumps({"streams": [asdict(s) for s in statuses]}, indent=2, default=str) + "\n"


class StatusCollector:
    """Prometheus metrics of the same figures, collected on each scrape."""

    def __init__(self, engine: Engine, specs: list[JobSpec]) -> None:
        self.engine, self.specs = engine, specs

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        labels = ["platform", "stream"]
        age = GaugeMetricFamily(
            "datasurface_stream_last_commit_age_seconds",
            "Seconds since the stream's last committed batch",
            labels=labels,
        )
        stale = GaugeMetricFamily(
            "datasurface_stream_stale", "1 when the stream misses its freshness limit", labels=labels
        )
        failing = GaugeMetricFamily(
            "datasurface_stream_failing", "1 when the last finished batch did not commit", labels=labels
        )
        success = GaugeMetricFamily(
            "datasurface_stream_success_ratio", "Committed share of recent finished batches", labels=labels
        )
        batch = GaugeMetricFamily("datasurface_stream_last_batch", "Id of the last committed batch", labels=labels)
        rows = GaugeMetricFamily(
            "datasurface_stream_last_batch_rows", "Rows changed by the last committed batch", labels=[*labels, "change"]
        )
        for s in collect(self.engine, self.specs):
            key = [s.platform, s.stream]
            if s.age_seconds is not None:
                age.add_metric(key, s.age_seconds)
            stale.add_metric(key, float(s.stale))
            failing.add_metric(key, float(s.failing))
            if s.success_rate is not None:
                success.add_metric(key, s.success_rate)
            if s.last_committed is not None:
                batch.add_metric(key, s.last_committed)
            for change in ("inserted", "updated", "deleted"):
                rows.add_metric([*key, change], getattr(s, change))
        yield from (age, stale, failing, success, batch, rows)
