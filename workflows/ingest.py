"""Ingestion: copy every dataset of a stream from the producer into staging, from one snapshot.

All tables of a stream are read in one REPEATABLE READ, READ ONLY transaction of the source,
so a multi-dataset store lands as one consistent snapshot even while the producer writes. Rows
stream through COPY: the source's COPY TO output is piped into the merge database's COPY FROM
input by a reader thread, so the job never holds a table in memory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from workflows.spec import DatasetSpec
from workflows.sqlnames import qualified, quote
from workflows.tables import key_list


class SourceSchemaError(Exception):
    """The producer's table does not match the model: permanent."""


@dataclass(frozen=True)
class SourceTable:
    schema: str
    table: str
    columns: dict[str, str]  # model column -> source column
    unique_key: bool  # a unique index covers exactly the model's key columns


def _match(wanted: str, available: list[str], what: str, where: str) -> str:
    if wanted in available:
        return wanted
    folded = [a for a in available if a.lower() == wanted.lower()]
    if len(folded) == 1:
        return folded[0]
    if not folded:
        raise SourceSchemaError(f"{where}: no {what} {wanted!r} (found: {', '.join(sorted(available)) or 'none'})")
    raise SourceSchemaError(f"{where}: {what} {wanted!r} matches {', '.join(sorted(folded))} ignoring case; rename one")


def resolve_source_table(conn: Connection, dataset: DatasetSpec, source_database: str) -> SourceTable:
    """Find the dataset's table and columns: exact names, else a unique case-insensitive match."""
    schema_name, _, table_name = dataset.source_table.rpartition(".")
    schema_name = schema_name or "public"
    where = f"dataset {dataset.name} in database {source_database}"
    tables = [
        r.table_name
        for r in conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type IN ('BASE TABLE', 'VIEW')"
            ),
            {"s": schema_name},
        )
    ]
    table = _match(table_name, tables, "table", f"{where}, schema {schema_name}")
    available = [
        r.column_name
        for r in conn.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = :t"),
            {"s": schema_name, "t": table},
        )
    ]
    columns = {
        c.name: _match(c.name, available, "column", f"{where}, table {schema_name}.{table}") for c in dataset.columns
    }
    key_columns = sorted(columns[c.name] for c in dataset.key_columns)
    unique = conn.execute(
        text(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relname = :t AND i.indisunique AND i.indpred IS NULL AND "
            "(SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = CAST(:k AS text[])"
        ),
        {"s": schema_name, "t": table, "k": key_columns},
    ).first()
    return SourceTable(schema_name, table, columns, unique is not None)


def copy_select(dataset: DatasetSpec, source: SourceTable) -> str:
    """The source query: the model's columns, in model order, from the source's names."""
    select = ", ".join(f"{quote(source.columns[c.name])} AS {quote(c.name)}" for c in dataset.columns)
    return f"SELECT {select} FROM {qualified(source.schema, source.table)}"


def _raw(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def stream_copy(source_conn: Connection, query: str, target_conn: Connection, target_sql: str) -> None:
    """COPY ``query`` out of the source into ``target_sql`` (a COPY ... FROM STDIN), through a pipe."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as sink, _raw(source_conn).cursor() as cursor:
                cursor.copy_expert(f"COPY ({query}) TO STDOUT", sink)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name="copy-out", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=1 << 20) as pipe, _raw(target_conn).cursor() as cursor:
            cursor.copy_expert(target_sql, pipe)
    finally:
        producer.join()
    if failure:
        # The target saw a truncated stream as a clean end: the caller's transaction must not commit.
        raise failure[0]


def ingest_stream(
    source_engine: Engine,
    merge_conn: Connection,
    datasets: list[DatasetSpec],
    staging: Callable[[DatasetSpec], str],
    source_database: str,
    on_dataset: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Load every dataset's staging table from one source snapshot. Returns rows per dataset.

    Runs inside the caller's merge-database transaction, which commits staging together with
    the batch state.
    """
    rows: dict[str, int] = {}
    with source_engine.connect() as opened:
        source_conn = opened.execution_options(isolation_level="REPEATABLE READ")
        with source_conn.begin():
            source_conn.execute(text("SET TRANSACTION READ ONLY"))
            resolved = {d.name: resolve_source_table(source_conn, d, source_database) for d in datasets}
            for dataset in datasets:
                table = staging(dataset)
                columns = ", ".join(quote(c.name) for c in dataset.columns)
                merge_conn.execute(text(f"TRUNCATE {table}"))
                stream_copy(
                    source_conn,
                    copy_select(dataset, resolved[dataset.name]),
                    merge_conn,
                    f"COPY {table} ({columns}) FROM STDIN",
                )
                if not resolved[dataset.name].unique_key:
                    duplicate = merge_conn.execute(
                        text(f"SELECT 1 FROM {table} GROUP BY {key_list(dataset)} HAVING count(*) > 1 LIMIT 1")
                    ).first()
                    if duplicate is not None:
                        raise SourceSchemaError(
                            f"dataset {dataset.name}: the source has several rows with one primary key"
                        )
                rows[dataset.name] = merge_conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                if on_dataset:
                    on_dataset(dataset.name)
    return rows
