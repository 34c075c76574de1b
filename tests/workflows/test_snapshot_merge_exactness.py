"""Exactness of snapshot-merge: merge tables hold exactly what the producer holds.

Values that typed equality calls equal (float zeros, JSON numbers as written) are still changes;
a widening converts existing rows to exactly what the job next reads from the producer, whether
the producer widened its column too or not; a batch reaches readers all at once.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.support.merge_stack import Stack, mvp_spec, seed
from tests.support.pg import PostgresServer
from workflows.snapshot_merge import run_snapshot_merge
from workflows.spec import ColumnSpec, DatabaseSpec, DatasetSpec, JobSpec
from workflows.sqlnames import quote
from workflows.tables import BATCH_OUT, LIVE

STRATEGIES = ("live", "forensic")


@pytest.fixture
def stack(postgres: PostgresServer, tmp_path: Path) -> Stack:
    return Stack(postgres, tmp_path)


def table_spec(strategy: str, columns: dict[str, str]) -> JobSpec:
    """A table ``w`` keyed by ``id`` INTEGER with nullable ``columns`` (name -> SQL type)."""
    db = DatabaseSpec(host="unused", port=5432, database="unused", credential="unused")
    return JobSpec(
        platform=f"Exact{strategy.title()}",
        strategy=strategy,  # type: ignore[arg-type]
        stream="W",
        store="W",
        namespace="ns",
        schedule="* * * * *",
        datasets=[
            DatasetSpec(
                name="w",
                source_table="w",
                columns=[
                    ColumnSpec(name="id", sql_type="INTEGER", nullable=False, key_position=0),
                    *(ColumnSpec(name=n, sql_type=t, nullable=True) for n, t in columns.items()),
                ],
            )
        ],
        source=db,
        merge=db,
    )


def merge(stack: Stack, spec: JobSpec) -> dict[str, int]:
    outcome = run_snapshot_merge(spec, stack.source_url, stack.merge_url)
    assert outcome.outcome == "done", outcome.error
    return outcome.datasets["w"]


def exact(rows: list[tuple]) -> list[tuple[str, ...]]:
    """Rows as the repr of each value: -0.0 and 0.0, 'ab' and 'ab  ', NaN and NaN told apart exactly."""
    return [tuple(repr(v) for v in row) for row in rows]


def current(stack: Stack, spec: JobSpec, columns: list[str]) -> list[tuple[str, ...]]:
    where = f" WHERE {quote(BATCH_OUT)} = {LIVE}" if spec.strategy == "forensic" else ""
    cols = ", ".join(quote(c) for c in columns)
    return exact(stack.merged(f"SELECT {cols} FROM {stack.table(spec, 'w')}{where} ORDER BY id"))


def producer(stack: Stack, columns: list[str]) -> list[tuple[str, ...]]:
    return exact(stack.src(f"SELECT {', '.join(columns)} FROM w ORDER BY id"))


def as_read_into(stack: Stack, sql_type: str) -> list[tuple[str, ...]]:
    """The producer's (id, x) as a text COPY out of it and into a column of ``sql_type`` gives
    them: the job's reading of a producer whose types differ from the model's."""
    buffer = io.StringIO()
    source, target = stack.pg.connect(stack.source_db), stack.pg.connect(stack.merge_db)
    try:
        with source.cursor() as cursor:
            cursor.execute("SET extra_float_digits = 3")
            cursor.copy_expert("COPY (SELECT id, x FROM w) TO STDOUT", buffer)
        buffer.seek(0)
        with target.cursor() as cursor:
            cursor.execute(f"CREATE TEMP TABLE r (id integer, x {sql_type})")
            cursor.copy_expert("COPY r FROM STDIN", buffer)
            cursor.execute("SELECT id, x FROM r ORDER BY id")
            return exact(cursor.fetchall())
    finally:
        source.close()
        target.close()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_float_zero_signs_and_json_numbers_as_written_are_changes(stack: Stack, strategy: str) -> None:
    spec = table_spec(strategy, {"d": "DOUBLE PRECISION", "r": "REAL", "j": "JSONB"})
    columns = ["id", "d", "r", "j"]
    stack.src("CREATE TABLE w (id integer PRIMARY KEY, d float8, r real, j jsonb)")
    stack.src(
        """INSERT INTO w VALUES (1, 0, 0, '{"a": 1}'), (2, 'NaN', 'NaN', '1'), (3, 1.5, 1.5, '{"b": 2, "a": 1}')"""
    )
    assert merge(stack, spec)["inserted"] == 3
    stack.src("UPDATE w SET d = '-0', r = '-0' WHERE id = 1")
    stack.src("UPDATE w SET j = '1.0' WHERE id = 2")
    stack.src("""UPDATE w SET j = '{"a": 1, "b": 2}' WHERE id = 3""")  # the same jsonb value: key order is not kept
    assert merge(stack, spec) == {"inserted": 0, "updated": 2, "deleted": 0, "total": 3}
    assert current(stack, spec, columns) == producer(stack, columns)
    versions = stack.merged(f"SELECT j::text FROM {stack.table(spec, 'w')} WHERE id = 2 ORDER BY 1")
    assert versions == ([("1.0",)] if strategy == "live" else [("1",), ("1.0",)])
    stack.src("""UPDATE w SET j = '{"a": 1.0}' WHERE id = 1""")
    stack.src("UPDATE w SET d = 0 WHERE id = 1")
    assert merge(stack, spec)["updated"] == 1
    assert current(stack, spec, columns) == producer(stack, columns)
    assert merge(stack, spec)["updated"] == 0  # and nothing looks changed when nothing is


# (model type before, after; the producer's column type before, after; values)
WIDENINGS = [
    ("SMALLINT", "INTEGER", "smallint", "integer", ["-32768", "0", "32767"]),
    ("INTEGER", "BIGINT", "integer", "bigint", ["-2147483648", "2147483647"]),
    ("CHAR(4)", "VARCHAR(10)", "char(4)", "varchar(10)", ["'ab'", "''", "'abcd'", "' a'"]),
    ("CHAR(4)", "TEXT", "char(4)", "text", ["'ab'", "''"]),
    ("CHAR(4)", "CHAR(8)", "char(4)", "char(8)", ["'ab'", "''"]),
    ("VARCHAR(5)", "VARCHAR(10)", "varchar(5)", "varchar(10)", ["'ab '", "''"]),
    ("VARCHAR(5)", "TEXT", "varchar(5)", "text", ["'ab '", "''"]),
    ("NUMERIC(6,2)", "NUMERIC(10,4)", "numeric(6,2)", "numeric(10,4)", ["1.5", "-0.01", "9999.99"]),
    ("DATE", "TIMESTAMP", "date", "timestamp", ["'2024-02-29'", "'0001-01-01'"]),
    ("REAL", "DOUBLE PRECISION", "real", "double precision", ["0.1", "'-0'", "3.4028235e38", "'NaN'", "'-Infinity'"]),
]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("producer_widened", [False, True], ids=["producer-unchanged", "producer-widened"])
@pytest.mark.parametrize("widening", WIDENINGS, ids=[f"{w[0]}->{w[1]}" for w in WIDENINGS])
def test_a_widening_leaves_every_row_as_the_producer_gives_it(
    stack: Stack, strategy: str, producer_widened: bool, widening: tuple[str, str, str, str, list[str]]
) -> None:
    model_before, model_after, source_before, source_after, values = widening
    stack.src(f"CREATE TABLE w (id integer PRIMARY KEY, x {source_before})")
    stack.src(f"INSERT INTO w VALUES {', '.join(f'({i}, {v})' for i, v in enumerate([*values, 'NULL']))}")
    merge(stack, table_spec(strategy, {"x": model_before}))
    widened = table_spec(strategy, {"x": model_after})
    if producer_widened:
        # A producer's own ALTER casts plainly: its values may change (char padding, real -> double).
        before = as_read_into(stack, model_after)
        stack.src(f"ALTER TABLE w ALTER COLUMN x TYPE {source_after}")
        changed = sum(1 for a, b in zip(before, as_read_into(stack, model_after), strict=True) if a != b)
    else:
        changed = 0
    metrics = merge(stack, widened)
    assert metrics["updated"] == changed  # only what the producer itself changed: none when it did not widen
    assert current(stack, widened, ["id", "x"]) == as_read_into(stack, model_after)
    assert merge(stack, widened)["updated"] == 0
    if strategy == "forensic":  # no spurious versions either
        versions = stack.merged(f"SELECT count(*) FROM {stack.table(widened, 'w')}")[0][0]
        assert versions == len(values) + 1 + changed


def test_a_batch_is_published_all_at_once(stack: Stack) -> None:
    """The merges of a stream's datasets commit together: killed after one dataset merged, no
    reader ever sees it at the new batch beside the other at the old one."""
    spec = mvp_spec("YellowLive")
    seed(stack)
    assert stack.run(spec)[0] == 0
    before = {d: stack.live_rows(spec, d, ["id", "ds_surf_batch_in"]) for d in ("addresses", "customers")}
    stack.src("INSERT INTO addresses VALUES ('A30', 'C1', '30 New St', 'X', 'Y', '1')")
    stack.src("UPDATE customers SET email = 'moved@example.com' WHERE id = 'C1'")
    code, _, _ = stack.run(spec, env={"DATASURFACE_FAILPOINT": "merged:addresses"})
    assert code == -9
    assert {d: stack.live_rows(spec, d, ["id", "ds_surf_batch_in"]) for d in before} == before
    code, outcome, err = stack.run(spec)
    assert code == 0, err
    assert outcome["datasets"]["addresses"]["inserted"] == 1 and outcome["datasets"]["customers"]["updated"] == 1
    batches = {
        d: {b for _id, b in stack.live_rows(spec, d, ["id", "ds_surf_batch_in"]) if b > 1}
        for d in ("addresses", "customers")
    }
    assert batches == {"addresses": {outcome["batch"]}, "customers": {outcome["batch"]}}
