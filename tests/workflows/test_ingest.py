"""Ingestion over several connections: one exported snapshot, whatever the producer commits."""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

import workflows.copy_plan
import workflows.ingest
from tests.support.merge_stack import Stack
from tests.support.pg import PostgresServer
from workflows.pg import Connection, Database
from workflows.spec import ColumnSpec, DatabaseSpec, DatasetSpec, JobSpec

TABLES = {"ledger": 20_000, "alpha": 1_000, "beta": 1_000}


def accounts_spec() -> JobSpec:
    columns = [
        ColumnSpec(name="id", sql_type="INTEGER", nullable=False, key_position=0),
        ColumnSpec(name="balance", sql_type="BIGINT", nullable=False),
        ColumnSpec(name="note", sql_type="TEXT", nullable=True),
    ]
    db = DatabaseSpec(host="unused", port=5432, database="unused", credential="unused")
    return JobSpec(
        platform="Par",
        strategy="live",
        stream="Accounts",
        store="Accounts",
        namespace="ns",
        schedule="* * * * *",
        datasets=[DatasetSpec(name=name, source_table=name, columns=columns) for name in TABLES],
        source=db,
        merge=db,
    )


@pytest.fixture
def stack(postgres: PostgresServer, tmp_path: Path) -> Stack:
    stack = Stack(postgres, tmp_path)
    for name, rows in TABLES.items():
        stack.src(f"CREATE TABLE {name} (id integer PRIMARY KEY, balance bigint NOT NULL, note text)")
        stack.src(f"INSERT INTO {name} SELECT g, 100, repeat('x', 40) FROM generate_series(1, {rows}) g")
    return stack


def ingest(stack: Stack, spec: JobSpec, parallel: int) -> tuple[dict[str, int], dict[str, list[tuple]]]:
    rows = stack.ingest(spec, parallel=parallel)
    return rows, {d.name: stack.staged(spec, d.name, "id, balance") for d in spec.datasets}


def test_every_connection_reads_the_exported_snapshot_while_the_producer_commits(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before each worker imports the snapshot, the producer commits a transfer between two
    tables, an insert and a delete: no table, and no block range of the split table, sees any."""
    monkeypatch.setattr(workflows.copy_plan, "MIN_SPLIT_BLOCKS", 8)  # split the 20,000-row table
    before = {name: stack.src(f"SELECT id, balance FROM {name} ORDER BY id") for name in TABLES}
    reader = workflows.ingest._snapshot_reader
    commits: list[int] = []
    numbers = itertools.count(1)  # workers run in threads: next() hands out each number once

    def commit_then_read(engine: Database, snapshot: str | None = None) -> AbstractContextManager[Connection]:
        if snapshot is not None:  # a worker, about to import the coordinator's snapshot
            n = next(numbers)
            stack.src(
                "BEGIN; UPDATE ledger SET balance = balance - 7 WHERE id = %s; UPDATE alpha SET balance = balance + 7 WHERE id = %s;"
                "INSERT INTO beta VALUES (%s, 1, NULL); DELETE FROM ledger WHERE id = %s; COMMIT",
                (n, n, 100_000 + n, 19_000 + n),
            )
            commits.append(n)
        return reader(engine, snapshot)

    monkeypatch.setattr(workflows.ingest, "_snapshot_reader", commit_then_read)
    rows, staged = ingest(stack, accounts_spec(), parallel=3)
    assert len(commits) >= 5  # the ledger in three block ranges, alpha, beta
    assert staged == before
    assert rows == TABLES
    assert sum(b for table in staged.values() for _id, b in table) == 100 * sum(TABLES.values())


def test_parallel_and_serial_ingestion_stage_the_same_rows(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflows.copy_plan, "MIN_SPLIT_BLOCKS", 8)
    stack.src("UPDATE ledger SET note = NULL WHERE id % 3 = 0")
    assert ingest(stack, accounts_spec(), parallel=4) == ingest(stack, accounts_spec(), parallel=1)
