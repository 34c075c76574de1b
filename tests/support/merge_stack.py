"""Helpers for snapshot-merge tests: the MVP's job specs, producer tables, reading merge tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from msgspec.structs import replace

from handler.render.streams import platform_streams
from tests.support.pg import PostgresServer
from tests.support.template import build_template_ecosystem
from workflows.db import database_at
from workflows.ingest import ingest_stream
from workflows.spec import ColumnSpec, DatabaseSpec, DatasetSpec, JobSpec
from workflows.sqlnames import merge_table, platform_schema, qualified, quote
from workflows.tables import BATCH_IN, BATCH_OUT, LIVE, DatasetTables, ensure_dataset_tables, ensure_platform_schema

CUSTOMER_COLUMNS = ["id", "firstName", "lastName", "dob", "email", "phone", "primaryAddressId", "billingAddressId"]
ADDRESS_COLUMNS = ["id", "customerId", "streetName", "city", "state", "zipCode"]

# Producers often create unquoted (lower-case) names: the job matches them case-insensitively.
PRODUCER_DDL = """
CREATE TABLE customers (id varchar(20) PRIMARY KEY, firstname varchar(100) NOT NULL, lastname varchar(100) NOT NULL,
  dob date NOT NULL, email varchar(100), phone varchar(100), primaryaddressid varchar(20), billingaddressid varchar(20));
CREATE TABLE addresses (id varchar(20) PRIMARY KEY, customerid varchar(20) NOT NULL, streetname varchar(100) NOT NULL,
  city varchar(100) NOT NULL, state varchar(100) NOT NULL, zipcode varchar(30) NOT NULL);
"""


def mvp_spec(platform: str, consumer_database: bool = False) -> JobSpec:
    """The MVP stream of ``platform``; with Consumer2's views (in its own consumer database) only
    when asked, since they need that database (tests/workflows/test_delivery.py)."""
    eco = build_template_ecosystem()
    (stream,) = platform_streams(eco, eco.getDataPlatformOrThrow(platform))
    spec = msgspec.convert(stream.spec, JobSpec)
    if consumer_database:
        return spec
    return replace(spec, views=[v for v in spec.views if v.database is None])


class Stack:
    """A producer database and a merge database on one server, and the MVP specs."""

    def __init__(self, pg: PostgresServer, tmp: Path) -> None:
        self.pg = pg
        self.source_db = pg.create_database("producer")
        self.merge_db = pg.create_database("merge")
        self.source_url = pg.url(self.source_db)
        self.merge_url = pg.url(self.merge_db)
        self.tmp = tmp
        pg.execute(self.source_db, PRODUCER_DDL)

    def src(self, sql: str, params: object = None) -> list[tuple]:
        return self.pg.execute(self.source_db, sql, params)

    def merged(self, sql: str, params: object = None) -> list[tuple]:
        return self.pg.execute(self.merge_db, sql, params)

    def spec_file(self, spec: JobSpec) -> Path:
        path = self.tmp / f"{spec.platform}-{spec.stream}.json"
        path.write_text(spec.to_json())
        return path

    def run(self, spec: JobSpec, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
        """Run ``datasurface job snapshot-merge`` as Argo would: a separate process."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "handler.cli",
                "job",
                "snapshot-merge",
                "--spec",
                str(self.spec_file(spec)),
                "--source-url",
                self.source_url,
                "--merge-url",
                self.merge_url,
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **(env or {})},
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        return result.returncode, json.loads(lines[-1]) if lines else {}, result.stderr

    def ingest(
        self, spec: JobSpec, parallel: int = 1, on_dataset: Callable[[str], None] | None = None
    ) -> dict[str, int]:
        """Ingestion alone, in this process: create the spec's tables, load and commit staging
        (read it with ``staged``). Returns the rows copied per dataset."""
        merge = database_at(self.merge_url, "tests")
        source = database_at(self.source_url, "tests")
        with merge.connect() as conn:
            with conn.begin():
                ensure_platform_schema(conn, DatasetTables.of(spec, spec.datasets[0]).schema)
                for dataset in spec.datasets:
                    ensure_dataset_tables(conn, spec, dataset)
            with conn.begin():
                ingested = ingest_stream(spec, source, conn, on_dataset=on_dataset, parallel=parallel)
                return {name: i.staged for name, i in ingested.items()}

    def staged(self, spec: JobSpec, dataset: str, columns: str = "*") -> list[tuple]:
        """The rows of ``dataset``'s staging table, ordered by the first column."""
        return self.merged(
            f"SELECT {columns} FROM {DatasetTables.of(spec, next(d for d in spec.datasets if d.name == dataset)).staging} ORDER BY 1"
        )

    def table(self, spec: JobSpec, dataset: str) -> str:
        return qualified(platform_schema(spec.platform), merge_table(spec.store, dataset))

    def live_rows(self, spec: JobSpec, dataset: str, columns: list[str]) -> list[tuple]:
        where = f" WHERE {quote(BATCH_OUT)} = {LIVE}" if spec.strategy == "forensic" else ""
        cols = ", ".join(quote(c) for c in columns)
        return self.merged(f"SELECT {cols} FROM {self.table(spec, dataset)}{where} ORDER BY 1")

    def as_of(self, spec: JobSpec, dataset: str, columns: list[str], batch: int) -> list[tuple]:
        cols = ", ".join(quote(c) for c in columns)
        return self.merged(
            f"SELECT {cols} FROM {self.table(spec, dataset)} WHERE {quote(BATCH_IN)} <= %s AND %s < {quote(BATCH_OUT)} ORDER BY 1",
            (batch, batch),
        )

    def versions(self, spec: JobSpec, dataset: str, key: str) -> list[tuple]:
        return self.merged(
            f"SELECT {quote(BATCH_IN)}, {quote(BATCH_OUT)} FROM {self.table(spec, dataset)} WHERE id = %s ORDER BY 1",
            (key,),
        )

    def source_rows(self, table: str, columns: list[str]) -> list[tuple]:
        return self.src(f"SELECT {', '.join(c.lower() for c in columns)} FROM {table} ORDER BY 1")


def seed(stack: Stack) -> None:
    """The seed's MVP data: 5 customers, 8 addresses."""
    for i in range(1, 6):
        stack.src(
            "INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL)",
            (f"C{i}", f"First{i}", f"Last{i}", f"1980-01-0{i}", f"c{i}@example.com", f"555-000{i}"),
        )
    for i in range(1, 9):
        stack.src(
            "INSERT INTO addresses VALUES (%s, %s, %s, %s, %s, %s)",
            (f"A{i}", f"C{(i - 1) % 5 + 1}", f"{i} Main St", "Springfield", "IL", f"6270{i}"),
        )


def pairs_spec(strategy: str = "live", extra: list[ColumnSpec] | None = None) -> JobSpec:
    """A table keyed by two strings, with values of every kind of type."""
    columns = [
        ColumnSpec(name="a", sql_type="VARCHAR(10)", nullable=False, key_position=0),
        ColumnSpec(name="b", sql_type="VARCHAR(10)", nullable=False, key_position=1),
        ColumnSpec(name="v", sql_type="VARCHAR(10)", nullable=True),
        ColumnSpec(name="ts", sql_type="TIMESTAMP", nullable=True),
        ColumnSpec(name="d", sql_type="DATE", nullable=True),
        ColumnSpec(name="f", sql_type="DOUBLE PRECISION", nullable=True),
        ColumnSpec(name="n", sql_type="NUMERIC(10,2)", nullable=True),
        *(extra or []),
    ]
    db = DatabaseSpec(host="unused", port=5432, database="unused", credential="unused")
    return JobSpec(
        platform="P",
        strategy=strategy,
        stream="S",
        store="S",
        namespace="ns",
        schedule="* * * * *",
        datasets=[DatasetSpec(name="pairs", source_table="pairs", columns=columns)],
        source=db,
        merge=db,
    )


PAIRS_DDL = "CREATE TABLE pairs (a varchar(10), b varchar(10), v varchar(10), ts timestamp, d date, f float8, n numeric(10,2), PRIMARY KEY (a, b))"
