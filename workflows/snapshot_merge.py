"""The snapshot-merge job of one stream: start or resume a batch, ingest, merge, commit.

Phases and their commits (each is atomic in the merge database):
1. tables: create or evolve the stream's merge and staging tables to the spec;
2. start: a new batch when the last one committed (else resume it);
3. ingest: every dataset's staging table from one source snapshot -> batch ``ingested``;
4. merge: one transaction per dataset (merge + metrics + progress) -> ``committed`` after the last.
A rerun after a crash anywhere resumes from the last commit and ends with the same tables and
metrics as an uninterrupted run. ``max_seconds`` bounds a run between datasets of the merge
phase: the outcome is then ``keep_working``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from workflows import failpoints
from workflows.batch import COMMITTED, INGESTED, STARTED, BatchStateError, BatchStore
from workflows.db import ConfigurationError, is_transient, make_engine
from workflows.ingest import SourceSchemaError, ingest_stream
from workflows.merge import merge_dataset
from workflows.outcome import Outcome
from workflows.runs import record_run
from workflows.spec import JobSpec
from workflows.sqlnames import platform_schema
from workflows.tables import DatasetTables, SchemaEvolutionError, ensure_dataset_tables

PERMANENT_ERRORS = (ConfigurationError, SourceSchemaError, SchemaEvolutionError, BatchStateError)


def run_snapshot_merge(
    spec: JobSpec,
    source_url: str | None = None,
    merge_url: str | None = None,
    max_seconds: float | None = None,
) -> Outcome:
    """Run the job; every failure becomes an ``error`` outcome saying whether it is transient.
    The outcome is recorded in the merge database for the exporter (best effort)."""
    started_at = datetime.now(UTC)
    try:
        merge_engine = make_engine(spec.merge, "merge", merge_url, f"datasurface-merge:{spec.stream}")
    except Exception as exc:  # noqa: BLE001 - classified below
        return _failure(spec, exc)
    try:
        try:
            source_engine = make_engine(spec.source, "source", source_url, f"datasurface-ingest:{spec.stream}")
            try:
                outcome = _run(spec, source_engine, merge_engine, max_seconds)
            finally:
                source_engine.dispose()
        except Exception as exc:  # noqa: BLE001 - classified below
            outcome = _failure(spec, exc)
        record_run(merge_engine, platform_schema(spec.platform), outcome, started_at)
        return outcome
    finally:
        merge_engine.dispose()


def _failure(spec: JobSpec, exc: Exception) -> Outcome:
    """An ``error`` outcome: permanent for what retrying cannot fix, else by the exception's kind;
    never a traceback for Argo to parse."""
    if isinstance(exc, PERMANENT_ERRORS):
        return Outcome("error", spec.stream, error=str(exc))
    return Outcome("error", spec.stream, error=f"{type(exc).__name__}: {exc}".strip(), transient=is_transient(exc))


def _run(spec: JobSpec, source_engine: Engine, merge_engine: Engine, max_seconds: float | None) -> Outcome:
    started = time.monotonic()
    store = BatchStore(platform_schema(spec.platform), spec.stream)
    with store.locked(merge_engine) as acquired:
        if not acquired:
            return Outcome(
                "error", spec.stream, error=f"another run of stream {spec.stream} is in progress", locked=True
            )
        return _run_locked(spec, source_engine, merge_engine, store, started, max_seconds)


def _run_locked(
    spec: JobSpec,
    source_engine: Engine,
    merge_engine: Engine,
    store: BatchStore,
    started: float,
    max_seconds: float | None,
) -> Outcome:
    with merge_engine.connect() as conn:
        with conn.begin():
            changed = [ensure_dataset_tables(conn, spec, d) for d in spec.datasets]  # every dataset, no short-circuit
            schema_changed = any(changed)
            if schema_changed:
                from workflows.views import restore_views  # only schema changes need the view code

                restore_views(conn, spec)  # a widening dropped the views over its table: back in one transaction
            batch = store.last(conn)
            if batch is not None and schema_changed and batch.status == INGESTED and not batch.merged:
                store.set_state(conn, batch, STARTED, {})  # staging predates the new layout: re-ingest
            if batch is None or batch.status == COMMITTED:
                batch = store.start(conn)
        failpoints.reached("started")

        if batch.status == STARTED:
            with conn.begin():
                rows = ingest_stream(
                    source_engine,
                    conn,
                    spec.datasets,
                    lambda d: DatasetTables.of(spec, d).staging,
                    spec.source.database,
                    on_dataset=lambda name: failpoints.reached(f"ingest:{name}"),
                )
                store.set_state(conn, batch, INGESTED, {"merged": [], "rows": rows})
            failpoints.reached("ingested")

        merged_now = 0
        for dataset in spec.datasets:
            if dataset.name in batch.merged:
                continue
            # Every run merges at least one dataset, so a small budget still makes progress.
            if merged_now and max_seconds is not None and time.monotonic() - started >= max_seconds:
                return Outcome(
                    "keep_working",
                    spec.stream,
                    batch.batch_id,
                    store_metrics(store, conn, batch.batch_id),
                    schema_changed,
                )
            with conn.begin():
                metrics = merge_dataset(conn, DatasetTables.of(spec, dataset), dataset, batch.batch_id)
                failpoints.reached(f"merge:{dataset.name}")
                store.record_metrics(conn, batch, dataset.name, metrics)
                merged = [*batch.merged, dataset.name]
                done = len(merged) == len(spec.datasets)
                store.set_state(conn, batch, COMMITTED if done else INGESTED, {**batch.state, "merged": merged})
            failpoints.reached(f"merged:{dataset.name}")
            merged_now += 1
        return Outcome("done", spec.stream, batch.batch_id, store_metrics(store, conn, batch.batch_id), schema_changed)


def store_metrics(store: BatchStore, conn: Connection, batch_id: int) -> dict[str, dict[str, int]]:
    with conn.begin():
        return store.metrics(conn, batch_id)


def reset_batch(spec: JobSpec, merge_url: str | None = None, dataset: str | None = None) -> str:
    """Reset the stream's open batch so it is re-ingested from scratch; returns what was done."""
    names = [d.name for d in spec.datasets]
    if dataset is not None and dataset not in names:
        raise BatchStateError(f"stream {spec.stream} has no dataset {dataset!r} (datasets: {', '.join(names)})")
    engine = make_engine(spec.merge, "merge", merge_url, f"datasurface-reset:{spec.stream}")
    try:
        store = BatchStore(platform_schema(spec.platform), spec.stream)
        with store.locked(engine) as acquired:
            if not acquired:
                raise BatchStateError(f"stream {spec.stream} is running; reset it when the run has ended")
            with engine.begin() as conn:
                batch = store.reset(conn)
                if dataset is not None:
                    conn.execute(
                        text(
                            f"TRUNCATE {DatasetTables.of(spec, next(d for d in spec.datasets if d.name == dataset)).staging}"
                        )
                    )
        scope = (
            f" (dataset {dataset}; ingestion reads every dataset of a stream from one snapshot, so all are re-ingested)"
            if dataset
            else ""
        )
        return f"batch {batch.batch_id} of stream {spec.stream} reset: the next run re-ingests it from scratch{scope}"
    finally:
        engine.dispose()
