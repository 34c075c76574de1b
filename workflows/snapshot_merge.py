"""The snapshot-merge job of one stream: start or resume a batch, ingest, merge, commit.

Phases and their commits (each is atomic in the merge database):
1. tables: create or evolve the stream's merge and staging tables to the spec;
2. start: a new batch when the last one committed (else resume it);
3. ingest: every dataset's staging table from one source snapshot -> batch ``ingested``;
4. merge: one transaction for all datasets (merges + metrics) -> ``committed``, so that readers
   see every dataset of the stream move to the new batch at once.
A stream's first load (every merge table empty, no time budget) is phases 3 and 4 in one
transaction: the rows are copied straight into the merge tables, with no staging pass.
A rerun after a crash anywhere resumes from the last commit and ends with the same tables and
metrics as an uninterrupted run. Staging tables are unlogged (scratch, no WAL): when a server
crash has emptied them, an ``ingested`` batch is ingested again before anything merges.
``max_seconds`` is checked between ingestion and merge: a run that ingested past its budget
ends ``keep_working`` and the next run merges.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from workflows import failpoints
from workflows.batch import COMMITTED, INGESTED, STARTED, Batch, BatchStateError, BatchStore
from workflows.change_capture import Capture, CaptureContradictedError, forget_watermarks, save_watermark, watermarks
from workflows.db import ConfigurationError, is_transient, job_database, merge_session_settings
from workflows.ingest import Ingested, ingest_stream, load_stream
from workflows.merge import merge_dataset
from workflows.outcome import Outcome
from workflows.pg import Connection, Database, text
from workflows.runs import record_run
from workflows.source_tables import SourceSchemaError
from workflows.spec import DatasetSpec, JobSpec
from workflows.sqlnames import platform_schema
from workflows.tables import (
    BATCH_IN,
    BATCH_OUT,
    LIVE,
    DatasetTables,
    SchemaEvolutionError,
    ensure_dataset_tables,
    staging_lost,
)

PERMANENT_ERRORS = (ConfigurationError, SourceSchemaError, SchemaEvolutionError, BatchStateError)


def run_snapshot_merge(
    spec: JobSpec,
    source_url: str | None = None,
    merge_url: str | None = None,
    max_seconds: float | None = None,
    parallel: int | None = None,
) -> Outcome:
    """Run the job; every failure becomes an ``error`` outcome saying whether it is transient.
    The outcome is recorded in the merge database for the exporter (best effort)."""
    started_at = datetime.now(UTC)
    try:
        merge_db = job_database(
            spec.merge,
            "merge",
            merge_url,
            f"datasurface-merge:{spec.stream}",
            merge_session_settings(spec.merge_settings),
        )
    except Exception as exc:  # noqa: BLE001 - classified below
        return _failure(spec, exc)
    try:
        source_db = job_database(spec.source, "source", source_url, f"datasurface-ingest:{spec.stream}")
        outcome = _run(spec, source_db, merge_db, max_seconds, parallel)
    except Exception as exc:  # noqa: BLE001 - classified below
        outcome = _failure(spec, exc)
    record_run(merge_db, platform_schema(spec.platform), outcome, started_at)
    return outcome


def _failure(spec: JobSpec, exc: Exception) -> Outcome:
    """An ``error`` outcome: permanent for what retrying cannot fix, else by the exception's kind;
    never a traceback for Argo to parse."""
    if isinstance(exc, PERMANENT_ERRORS):
        return Outcome("error", spec.stream, error=str(exc))
    return Outcome("error", spec.stream, error=f"{type(exc).__name__}: {exc}".strip(), transient=is_transient(exc))


def _run(
    spec: JobSpec, source_db: Database, merge_db: Database, max_seconds: float | None, parallel: int | None
) -> Outcome:
    started = time.monotonic()
    store = BatchStore(platform_schema(spec.platform), spec.stream)
    with store.locked(merge_db) as acquired:
        if not acquired:
            return Outcome(
                "error", spec.stream, error=f"another run of stream {spec.stream} is in progress", locked=True
            )
        return _run_locked(spec, source_db, merge_db, store, started, max_seconds, parallel)


def _run_locked(
    spec: JobSpec,
    source_db: Database,
    merge_db: Database,
    store: BatchStore,
    started: float,
    max_seconds: float | None,
    parallel: int | None,
) -> Outcome:
    with merge_db.connect() as conn:
        with conn.begin():
            changed = [ensure_dataset_tables(conn, spec, d) for d in spec.datasets]  # every dataset, no short-circuit
            schema_changed = any(changed)
            if schema_changed:
                from workflows.views import restore_views  # only schema changes need the view code

                restore_views(conn, spec)  # a widening dropped the views over its table: back in one transaction
            batch = store.last(conn)
            # Staging predates the new layout, or a server crash emptied it (it is unlogged):
            # nothing is merged yet, so ingest again.
            if (
                batch is not None
                and batch.status == INGESTED
                and not batch.merged
                and (schema_changed or staging_lost(conn, _scratch_rows(spec, batch.state)))
            ):
                store.set_state(conn, batch, STARTED, {})
            if batch is None or batch.status == COMMITTED:
                batch = store.start(conn)
            first_load = batch.status == STARTED and max_seconds is None and _merge_tables_empty(conn, spec)
        failpoints.reached("started")
        if first_load:
            with conn.begin():
                _load_first(spec, source_db, conn, store, batch)
            return Outcome(
                "done", spec.stream, batch.batch_id, store_metrics(store, conn, batch.batch_id), schema_changed
            )

        ingested_now = batch.status == STARTED
        if ingested_now:
            with conn.begin():
                ingested = ingest_stream(
                    spec,
                    source_db,
                    conn,
                    on_dataset=lambda name: failpoints.reached(f"ingest:{name}"),
                    parallel=parallel or spec.merge_settings.parallel,
                    watermarks=watermarks(conn, store.schema, spec.stream)
                    if spec.merge_settings.change_capture
                    else None,
                )
                store.set_state(conn, batch, INGESTED, _ingested_state(ingested, merged=[]))
            failpoints.reached("ingested")

        pending = [d for d in spec.datasets if d.name not in batch.merged]
        if ingested_now and max_seconds is not None and time.monotonic() - started >= max_seconds:
            return Outcome("keep_working", spec.stream, batch.batch_id, {}, schema_changed)
        # One transaction for every dataset: readers (and consumer databases, which replicate
        # transactions whole) see the stream go from one batch to the next in one step.
        try:
            with conn.begin():
                _merge_pending(spec, conn, store, batch, pending)
        except CaptureContradictedError:
            # Nothing merged. Without watermarks, the batch is ingested again reading everything.
            with conn.begin():
                forget_watermarks(conn, store.schema, spec.stream)
                store.set_state(conn, batch, STARTED, {})
            return _run_locked(spec, source_db, merge_db, store, started, max_seconds, parallel)
        return Outcome("done", spec.stream, batch.batch_id, store_metrics(store, conn, batch.batch_id), schema_changed)


def _merge_tables_empty(conn: Connection, spec: JobSpec) -> bool:
    """Whether no dataset of the stream has a current row: its first batch, or every source was
    empty so far."""
    return not any(
        conn.execute(text(f"SELECT EXISTS (SELECT FROM {DatasetTables.of(spec, d).current})")).scalar_one()
        for d in spec.datasets
    )


def _load_first(spec: JobSpec, source_db: Database, conn: Connection, store: BatchStore, batch: Batch) -> None:
    """Ingest and merge in one step, in the caller's transaction: every row is an insert, so the
    rows are copied straight into the merge tables (workflows/ingest.py ``load_stream``). A
    crash rolls all of it back and the batch starts again. A run with a time budget stages
    instead, so it can pause between ingestion and the merge."""
    batch_columns = {BATCH_IN: batch.batch_id, **({BATCH_OUT: LIVE} if spec.strategy == "forensic" else {})}
    loaded = load_stream(
        spec,
        source_db,
        conn,
        batch_columns,
        on_dataset=lambda name: failpoints.reached(f"ingest:{name}"),
        capture=spec.merge_settings.change_capture,
    )
    failpoints.reached("ingested")
    for name, ingested in loaded.items():
        save_watermark(conn, store.schema, spec.stream, name, ingested.capture)
        rows = ingested.staged
        store.record_metrics(conn, batch, name, {"inserted": rows, "updated": 0, "deleted": 0, "total": rows})
        failpoints.reached(f"merged:{name}")
    store.set_state(conn, batch, COMMITTED, _ingested_state(loaded, merged=list(loaded)))


def _ingested_state(ingested: dict[str, Ingested], merged: list[str]) -> dict[str, Any]:
    """A batch's state after ingestion: rows copied and change capture per dataset (what
    ``_merge_pending`` and ``_scratch_rows`` read back), and the datasets merged so far."""
    return {
        "merged": merged,
        "rows": {name: i.staged for name, i in ingested.items()},
        "capture": {name: i.capture.to_state() for name, i in ingested.items()},
    }


def _merge_pending(
    spec: JobSpec, conn: Connection, store: BatchStore, batch: Batch, pending: list[DatasetSpec]
) -> None:
    staged = batch.state.get("rows", {})
    for dataset in pending:
        tables = DatasetTables.of(spec, dataset)
        capture = Capture.from_state(batch.state.get("capture", {}).get(dataset.name))
        total = capture.total if capture.total is not None else _staged_rows(conn, tables, staged, dataset)
        metrics = merge_dataset(conn, tables, dataset, batch.batch_id, total, capture)
        save_watermark(conn, store.schema, spec.stream, dataset.name, capture)
        failpoints.reached(f"merge:{dataset.name}")
        store.record_metrics(conn, batch, dataset.name, metrics)
        failpoints.reached(f"merged:{dataset.name}")
    merged = [*batch.merged, *(d.name for d in pending)]
    store.set_state(conn, batch, COMMITTED, {**batch.state, "merged": merged})


def _scratch_rows(spec: JobSpec, state: dict[str, Any]) -> dict[str, int]:
    """The rows ingestion left in each scratch (unlogged) table: staging, and the keys of
    unchanged rows where change capture copied them."""
    staged, captured = state.get("rows", {}), state.get("capture", {})
    rows: dict[str, int] = {}
    for dataset in spec.datasets:
        tables = DatasetTables.of(spec, dataset)
        rows[tables.staging] = int(staged.get(dataset.name, 0))
        keys = Capture.from_state(captured.get(dataset.name)).keys
        if keys:
            rows[tables.keys] = keys
    return rows


def _staged_rows(conn: Connection, tables: DatasetTables, staged: dict[str, int], dataset: DatasetSpec) -> int:
    """Rows in the dataset's staging table: as counted by its COPY (a batch ingested by an older
    version may not have recorded them)."""
    if dataset.name in staged:
        return int(staged[dataset.name])
    return int(conn.execute(text(f"SELECT count(*) FROM {tables.staging}")).scalar_one())


def store_metrics(store: BatchStore, conn: Connection, batch_id: int) -> dict[str, dict[str, int]]:
    with conn.begin():
        return store.metrics(conn, batch_id)


def reset_batch(spec: JobSpec, merge_url: str | None = None, dataset: str | None = None) -> str:
    """Reset the stream's open batch so it is re-ingested from scratch; returns what was done."""
    names = [d.name for d in spec.datasets]
    if dataset is not None and dataset not in names:
        raise BatchStateError(f"stream {spec.stream} has no dataset {dataset!r} (datasets: {', '.join(names)})")
    merge_db = job_database(spec.merge, "merge", merge_url, f"datasurface-reset:{spec.stream}")
    store = BatchStore(platform_schema(spec.platform), spec.stream)
    with store.locked(merge_db) as acquired:
        if not acquired:
            raise BatchStateError(f"stream {spec.stream} is running; reset it when the run has ended")
        with merge_db.begin() as conn:
            batch = store.reset(conn)
            forget_watermarks(conn, store.schema, spec.stream)
            if dataset is not None:
                staging = DatasetTables.of(spec, next(d for d in spec.datasets if d.name == dataset)).staging
                conn.execute(text(f"TRUNCATE {staging}"))
    scope = (
        f" (dataset {dataset}; ingestion reads every dataset of a stream from one snapshot, so all are re-ingested)"
        if dataset
        else ""
    )
    return f"batch {batch.batch_id} of stream {spec.stream} reset: the next run re-ingests it from scratch{scope}"
