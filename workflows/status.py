"""Operating view of the data plane: per platform and stream, the last batch, its age, its
counts, recent runs, and whether the stream is fresh enough and healthy.

Streams come from job specs (a folder of spec JSON files, or a rendered deployment tree) so that
each has its platform name and freshness target; without specs, every platform schema in the
merge database is listed under its schema name. A collection costs a fixed handful of queries per
platform schema, each reading a few rows per stream (indexes and the running totals kept at
commit), however many batches the streams have merged.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from workflows.batch import COMMITTED, BatchStore
from workflows.pg import Connection, Database, text
from workflows.spec import JobSpec
from workflows.sqlnames import platform_schema, quote
from workflows.tables import bookkeeping

RECENT = 20  # runs that make the success rate
DEFAULT_MAX_AGE = 900.0


@dataclass
class DatasetStatus:
    dataset: str
    rows: int | None  # after the last committed batch
    last_inserted: int
    last_updated: int
    last_deleted: int
    inserted_total: int  # over every committed batch since the platform kept totals
    updated_total: int
    deleted_total: int


@dataclass
class StreamStatus:
    platform: str
    stream: str
    namespace: str
    last_batch: int | None
    last_status: str | None
    last_committed: int | None
    last_commit_at: datetime | None
    age_seconds: float | None  # since the last committed batch ended
    inserted: int  # by the last committed batch, over its datasets
    updated: int
    deleted: int
    success_rate: float | None  # of recent finished runs (a run that found the stream locked is neither)
    max_age_seconds: float  # the freshness target
    stale: bool
    failing: bool
    consecutive_failures: int = 0  # runs that ended in error since the last good one
    last_error: str | None = None
    running: bool = False  # a run holds the stream's lock now
    open_batch_age_seconds: float | None = None  # since the uncommitted batch started
    keep_working_runs: int = 0  # runs that paused the open batch with more to merge
    committed_batches: int = 0  # counted at commit
    batch_seconds_total: float = 0.0
    last_batch_seconds: float | None = None  # start to commit of the last committed batch
    runs: dict[str, int] = field(default_factory=dict)  # by outcome
    first_seen: datetime | None = None  # the first batch or run known
    datasets: list[DatasetStatus] = field(default_factory=list)


def specs_from(folder: Path) -> list[JobSpec]:
    """Job specs from spec JSON files (a mounted ConfigMap, say) or a rendered deployment tree's
    ConfigMaps; each stream once. Hidden folders are skipped: ``.datasurface/`` of a tree, and the
    ``..<timestamp>/`` copies Kubernetes keeps beside a mounted volume's files."""

    def visible(path: Path) -> bool:
        return not any(part.startswith(".") for part in path.relative_to(folder).parts)

    specs = [JobSpec.from_json(p.read_bytes()) for p in sorted(folder.rglob("*.json")) if visible(p)]
    for path in sorted(folder.rglob("*job-specs.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ConfigMap":
                specs.extend(JobSpec.from_json(v) for v in doc.get("data", {}).values())
    return list({(s.platform, s.stream): s for s in specs}.values())


@dataclass(frozen=True)
class _Watched:
    platform: str
    stream: str
    namespace: str
    max_age: float


def _watched(conn: Connection, specs: list[JobSpec], default_max_age: float) -> dict[str, list[_Watched]]:
    """The streams to report, by platform schema."""
    by_schema: dict[str, list[_Watched]] = defaultdict(list)
    if specs:
        for spec in specs:
            by_schema[platform_schema(spec.platform)].append(
                _Watched(spec.platform, spec.stream, spec.namespace, float(spec.freshness_target))
            )
        return by_schema
    schemas = conn.execute(
        text(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'batch_counter' "
            "AND table_schema LIKE 'ds\\_%' ORDER BY 1"
        )
    ).scalars()
    for schema in list(schemas):
        for stream in conn.execute(text(f"SELECT stream FROM {quote(schema)}.batch_counter ORDER BY 1")).scalars():
            by_schema[schema].append(_Watched(schema, stream, "", default_max_age))
    return by_schema


#: A stream's batch figures before the platform has a batches table.
_NO_BATCHES = SimpleNamespace(
    last_batch=None,
    last_status=None,
    last_started=None,
    last_committed=None,
    committed_started=None,
    committed_ended=None,
    first_started=None,
)


def _existing(conn: Connection, schema: str) -> set[str]:
    t = bookkeeping(schema)
    rows = conn.execute(
        text(
            "SELECT name FROM unnest(CAST(:names AS text[]), CAST(:tables AS text[])) AS x(name, qualified) "
            "WHERE to_regclass(qualified) IS NOT NULL"
        ),
        {"names": list(t), "tables": list(t.values())},
    ).scalars()
    return set(rows)


def _rows(conn: Connection, sql: str, **params: Any) -> list[Any]:
    return list(conn.execute(text(sql), params).all())


def _collect_schema(conn: Connection, schema: str, watched: list[_Watched], now: datetime) -> list[StreamStatus]:
    t = bookkeeping(schema)
    names = [w.stream for w in watched]
    present = _existing(conn, schema)
    streams = "unnest(CAST(:streams AS text[])) AS s(stream)"
    batches: dict[str, Any] = {}
    if "batches" in present:
        for r in _rows(
            conn,
            f"SELECT s.stream, lb.batch_id AS last_batch, lb.status AS last_status, lb.started_at AS last_started, "
            f"lc.batch_id AS last_committed, lc.started_at AS committed_started, lc.ended_at AS committed_ended, "
            f"fb.started_at AS first_started FROM {streams} "
            f"LEFT JOIN LATERAL (SELECT batch_id, status, started_at FROM {t['batches']} WHERE stream = s.stream "
            "ORDER BY batch_id DESC LIMIT 1) lb ON true "
            f"LEFT JOIN LATERAL (SELECT batch_id, started_at, ended_at FROM {t['batches']} WHERE stream = s.stream "
            f"AND status = '{COMMITTED}' ORDER BY batch_id DESC LIMIT 1) lc ON true "
            f"LEFT JOIN LATERAL (SELECT started_at FROM {t['batches']} WHERE stream = s.stream "
            "ORDER BY batch_id LIMIT 1) fb ON true",
            streams=names,
        ):
            batches[r.stream] = r
    committed = {s: r.last_committed for s, r in batches.items() if r.last_committed is not None}
    last_metrics: dict[str, list[Any]] = defaultdict(list)
    if committed and "batch_metrics" in present:
        for r in _rows(
            conn,
            f"SELECT stream, dataset, inserted, updated, deleted, total FROM {t['batch_metrics']} "
            "JOIN unnest(CAST(:streams AS text[]), CAST(:batches AS bigint[])) AS k(stream, batch_id) "
            "USING (stream, batch_id) ORDER BY stream, dataset",
            streams=list(committed),
            batches=list(committed.values()),
        ):
            last_metrics[r.stream].append(r)
    totals: dict[str, dict[str, Any]] = defaultdict(dict)
    if "dataset_totals" in present:
        for r in _rows(conn, f"SELECT * FROM {t['dataset_totals']} WHERE stream = ANY(:streams)", streams=names):
            totals[r.stream][r.dataset] = r
    stream_totals = (
        {
            r.stream: r
            for r in _rows(conn, f"SELECT * FROM {t['stream_totals']} WHERE stream = ANY(:streams)", streams=names)
        }
        if "stream_totals" in present
        else {}
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    if "run_counts" in present:
        for r in _rows(conn, f"SELECT * FROM {t['run_counts']} WHERE stream = ANY(:streams)", streams=names):
            counts[r.stream][r.outcome] = int(r.runs)
    recent: dict[str, list[Any]] = defaultdict(list)
    first_run: dict[str, datetime] = {}
    if "runs" in present:
        for r in _rows(
            conn,
            f"SELECT s.stream, r.batch_id, r.outcome, r.started_at, r.error, f.first_started FROM {streams} "
            f"JOIN LATERAL (SELECT batch_id, outcome, started_at, error FROM {t['runs']} WHERE stream = s.stream "
            f"ORDER BY run_id DESC LIMIT {RECENT}) r ON true "
            f"LEFT JOIN LATERAL (SELECT started_at AS first_started FROM {t['runs']} WHERE stream = s.stream "
            "ORDER BY run_id LIMIT 1) f ON true",
            streams=names,
        ):
            recent[r.stream].append(r)  # newest first
            first_run[r.stream] = r.first_started
    running = _running(conn, schema, names)
    result = []
    for w in watched:
        b = batches.get(w.stream, _NO_BATCHES)
        runs = recent.get(w.stream, [])
        finished = [r for r in runs if r.outcome != "locked"]
        failures = next((i for i, r in enumerate(finished) if r.outcome != "error"), len(finished))
        open_batch = b.last_batch if b.last_batch is not None and b.last_status != COMMITTED else None
        age = (now - b.committed_ended).total_seconds() if b.committed_ended is not None else None
        metrics = last_metrics.get(w.stream, [])
        st = stream_totals.get(w.stream)
        firsts = [d for d in (b.first_started, first_run.get(w.stream)) if d is not None]
        result.append(
            StreamStatus(
                platform=w.platform,
                stream=w.stream,
                namespace=w.namespace,
                last_batch=b.last_batch,
                last_status=b.last_status,
                last_committed=b.last_committed,
                last_commit_at=b.committed_ended,
                age_seconds=age,
                inserted=sum(m.inserted for m in metrics),
                updated=sum(m.updated for m in metrics),
                deleted=sum(m.deleted for m in metrics),
                success_rate=(sum(1 for r in finished if r.outcome != "error") / len(finished)) if finished else None,
                max_age_seconds=w.max_age,
                stale=age is None or age > w.max_age,
                failing=failures > 0,
                consecutive_failures=failures,
                last_error=finished[0].error if failures else None,
                running=w.stream in running,
                open_batch_age_seconds=(now - b.last_started).total_seconds() if open_batch is not None else None,
                keep_working_runs=sum(1 for r in runs if r.batch_id == open_batch and r.outcome == "keep_working")
                if open_batch is not None
                else 0,
                committed_batches=int(st.batches) if st else 0,
                batch_seconds_total=float(st.batch_seconds) if st else 0.0,
                last_batch_seconds=(b.committed_ended - b.committed_started).total_seconds()
                if age is not None
                else None,
                runs=counts.get(w.stream, {}),
                first_seen=min(firsts) if firsts else None,
                datasets=_datasets(metrics, totals.get(w.stream, {})),
            )
        )
    return result


def _datasets(last: list[Any], totals: dict[str, Any]) -> list[DatasetStatus]:
    by_name = {m.dataset: m for m in last}
    return [
        DatasetStatus(
            dataset=name,
            rows=int(by_name[name].total) if name in by_name else None,
            last_inserted=int(by_name[name].inserted) if name in by_name else 0,
            last_updated=int(by_name[name].updated) if name in by_name else 0,
            last_deleted=int(by_name[name].deleted) if name in by_name else 0,
            inserted_total=int(totals[name].inserted) if name in totals else 0,
            updated_total=int(totals[name].updated) if name in totals else 0,
            deleted_total=int(totals[name].deleted) if name in totals else 0,
        )
        for name in sorted(set(by_name) | set(totals))
    ]


def _running(conn: Connection, schema: str, streams: list[str]) -> set[str]:
    """Streams whose advisory lock a run holds now (``BatchStore.try_lock``), read from ``pg_locks``:
    a bigint advisory key shows as classid (high 32 bits) and objid (low 32 bits), objsubid 1."""
    keys = {BatchStore(schema, s).lock_key(): s for s in streams}
    held = conn.execute(
        text(
            "SELECT k.key FROM unnest(CAST(:keys AS text[])) AS k(key) WHERE EXISTS (SELECT 1 FROM pg_locks l "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND (l.classid::bigint << 32) | l.objid::bigint = hashtextextended(k.key, 0))"
        ),
        {"keys": list(keys)},
    ).scalars()
    return {keys[k] for k in held}


def collect(merge_db: Database, specs: list[JobSpec], default_max_age: float = DEFAULT_MAX_AGE) -> list[StreamStatus]:
    now = datetime.now(UTC)
    result = []
    with merge_db.connect() as conn:
        for schema, watched in _watched(conn, specs, default_max_age).items():
            result.extend(_collect_schema(conn, schema, watched, now))
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


def recent_batches(merge_db: Database, platform: str, batches: int = 3) -> list[DatasetBatch]:
    """The datasets of the platform's last ``batches`` batches (across its streams), oldest first."""
    t = bookkeeping(platform_schema(platform))
    with merge_db.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT b.stream, b.batch_id, b.status, m.dataset, m.inserted, m.updated, m.deleted, m.total "
                f"FROM {t['batches']} b JOIN {t['batch_metrics']} m USING (stream, batch_id) "
                f"WHERE b.batch_id > (SELECT max(batch_id) - :n FROM {t['batches']}) ORDER BY b.batch_id, b.stream, m.dataset"
            ),
            {"n": batches},
        ).all()
    return [DatasetBatch(*row) for row in rows]


def to_json(statuses: list[StreamStatus], consumers: Sequence[Any] = ()) -> str:
    """Streams, and the delivery figures of workspaces' consumer databases (workflows/consumer_status.py)."""
    body = {"streams": [asdict(s) for s in statuses], "consumers": [asdict(c) for c in consumers]}
    return json.dumps(body, indent=2, default=str) + "\n"
