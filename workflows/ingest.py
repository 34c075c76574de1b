"""Ingestion: copy every dataset of a stream from the producer into staging, from one snapshot.

Every table of a stream is read in ``REPEATABLE READ, READ ONLY`` transactions of the source
that share one snapshot, so a multi-dataset store lands as one consistent snapshot even while
the producer writes. With ``parallel`` = 1 one transaction reads every table in turn; with more,
a coordinating transaction exports its snapshot (``pg_export_snapshot()``) and each worker
connection imports it (``SET TRANSACTION SNAPSHOT``) before reading, so all of them see exactly
the same rows (workflows/copy_plan.py splits the work). Rows stream through COPY: the source's
COPY TO output is piped into the merge database's COPY FROM input, so the job never holds a
table in memory; the binary format when the producer's column types are the model's, else
text (which converts, and refuses a value the model's type cannot hold).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from workflows.copy_plan import Chunk, plan_chunks
from workflows.source_tables import SourceSchemaError, SourceTable, resolve_source_table
from workflows.spec import DatasetSpec
from workflows.sqlnames import quote
from workflows.tables import key_list, unlogged_staging

_READ_SIZE = 1 << 18  # bytes per read of the pipe into COPY FROM


def _raw(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def stream_copy(source_conn: Connection, query: str, target_conn: Connection, target_sql: str) -> int:
    """COPY ``query`` out of the source into ``target_sql`` (a COPY ... FROM STDIN), through a
    pipe; both statements name the same format. Returns the rows copied."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as sink, _raw(source_conn).cursor() as cursor:
                cursor.copy_expert(query, sink)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name="copy-out", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe, _raw(target_conn).cursor() as cursor:
            cursor.copy_expert(target_sql, pipe, size=_READ_SIZE)
            copied = int(cursor.rowcount)
    finally:
        producer.join()
    if failure:
        # The target saw a truncated stream as a clean end: the caller's transaction must not commit.
        raise failure[0]
    return copied


def _copy_statements(dataset: DatasetSpec, source: SourceTable, staging: str, chunk: Chunk) -> tuple[str, str]:
    select = ", ".join(f"{quote(source.columns[c.name])} AS {quote(c.name)}" for c in dataset.columns)
    where = f" WHERE {chunk.where}" if chunk.where else ""
    fmt = " (FORMAT binary)" if source.binary else ""
    columns = ", ".join(quote(c.name) for c in dataset.columns)
    return (
        f"COPY (SELECT {select} FROM {source.qualified}{where}) TO STDOUT{fmt}",
        f"COPY {staging} ({columns}) FROM STDIN{fmt}",
    )


@contextmanager
def _snapshot_reader(source_engine: Engine, snapshot: str | None = None) -> Iterator[Connection]:
    """A read-only REPEATABLE READ transaction of the source; on ``snapshot`` when given."""
    with source_engine.connect() as opened:
        conn = opened.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if snapshot is not None:
                conn.execute(text("SET TRANSACTION SNAPSHOT :s"), {"s": snapshot})  # must come first
            conn.execute(text("SET TRANSACTION READ ONLY"))
            yield conn


def ingest_stream(
    source_engine: Engine,
    merge_conn: Connection,
    datasets: list[DatasetSpec],
    staging: Callable[[DatasetSpec], str],
    source_database: str,
    on_dataset: Callable[[str], None] | None = None,
    parallel: int = 1,
) -> dict[str, int]:
    """Load every dataset's staging table from one source snapshot. Returns rows per dataset.

    ``parallel`` = 1: runs inside the caller's merge-database transaction, which commits staging
    together with the batch state. More: ``parallel`` worker connections of the merge database
    (from ``merge_conn``'s engine) load and commit the staging tables; the caller's transaction
    then records the batch state (staging is scratch until that state says ``ingested``).
    """
    with _snapshot_reader(source_engine) as source_conn:
        tables = {d.name: staging(d) for d in datasets}
        resolved = {
            d.name: resolve_source_table(source_conn, merge_conn, d, tables[d.name], source_database) for d in datasets
        }
        if parallel <= 1:
            rows = _ingest_serially(source_conn, merge_conn, datasets, tables, resolved, on_dataset)
        else:
            snapshot = str(source_conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            rows = _ingest_in_parallel(
                source_engine, snapshot, merge_conn, datasets, tables, resolved, on_dataset, parallel
            )
    for dataset in datasets:
        if not resolved[dataset.name].unique_key:
            _refuse_duplicate_keys(merge_conn, dataset, tables[dataset.name])
    return rows


def _ingest_serially(
    source_conn: Connection,
    merge_conn: Connection,
    datasets: list[DatasetSpec],
    tables: dict[str, str],
    resolved: dict[str, SourceTable],
    on_dataset: Callable[[str], None] | None,
) -> dict[str, int]:
    rows: dict[str, int] = {}
    for dataset in datasets:
        unlogged_staging(merge_conn, [tables[dataset.name]])
        out, into = _copy_statements(dataset, resolved[dataset.name], tables[dataset.name], Chunk(dataset.name))
        rows[dataset.name] = stream_copy(source_conn, out, merge_conn, into)
        if on_dataset:
            on_dataset(dataset.name)
    return rows


def _ingest_in_parallel(
    source_engine: Engine,
    snapshot: str,
    merge_conn: Connection,
    datasets: list[DatasetSpec],
    tables: dict[str, str],
    resolved: dict[str, SourceTable],
    on_dataset: Callable[[str], None] | None,
    parallel: int,
) -> dict[str, int]:
    merge_engine = merge_conn.engine
    with merge_engine.begin() as truncating:  # committed first: the workers' COPYs must not wait on it
        unlogged_staging(truncating, [tables[d.name] for d in datasets])
    by_name = {d.name: d for d in datasets}
    chunks = plan_chunks({d.name: resolved[d.name] for d in datasets}, parallel)

    def load(chunk: Chunk) -> int:
        dataset = by_name[chunk.dataset]
        out, into = _copy_statements(dataset, resolved[chunk.dataset], tables[chunk.dataset], chunk)
        with _snapshot_reader(source_engine, snapshot) as source_conn, merge_engine.begin() as target:
            return stream_copy(source_conn, out, target, into)

    rows = dict.fromkeys(by_name, 0)
    left = {name: sum(1 for c in chunks if c.dataset == name) for name in by_name}
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="ingest") as pool:
        running: dict[Future[int], Chunk] = {pool.submit(load, chunk): chunk for chunk in chunks}
        try:
            while running:
                done, _ = wait(running, return_when=FIRST_EXCEPTION)
                for future in done:
                    chunk = running.pop(future)
                    rows[chunk.dataset] += future.result()  # a failed chunk raises here
                    left[chunk.dataset] -= 1
                    if left[chunk.dataset] == 0 and on_dataset:
                        on_dataset(chunk.dataset)
        finally:
            for future in running:
                future.cancel()
    return rows


def _refuse_duplicate_keys(merge_conn: Connection, dataset: DatasetSpec, table: str) -> None:
    """A producer without a unique index on the key may hold one key twice: a permanent error."""
    duplicate = merge_conn.execute(
        text(f"SELECT 1 FROM {table} GROUP BY {key_list(dataset)} HAVING count(*) > 1 LIMIT 1")
    ).first()
    if duplicate is not None:
        raise SourceSchemaError(f"dataset {dataset.name}: the source has several rows with one primary key")
