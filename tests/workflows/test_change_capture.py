"""Change capture on a real PostgreSQL: a batch stages only rows that may have changed since the
last one, and reads everything whenever the producer's table could have changed otherwise."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy.engine import make_url

import workflows.copy_plan
import workflows.ingest
from tests.support.merge_stack import PAIRS_DDL, Stack, pairs_spec
from tests.support.pg import PostgresServer
from workflows.change_capture import MAX_DISTANCE, candidates, changes_since
from workflows.snapshot_merge import reset_batch, run_snapshot_merge
from workflows.spec import ColumnSpec, DatasetSpec, JobSpec, MergeSettings
from workflows.sqlnames import platform_schema
from workflows.tables import DatasetTables

COLUMNS = ["a", "b", "v"]


@pytest.fixture
def stack(postgres: PostgresServer, tmp_path: Path) -> Stack:
    stack = Stack(postgres, tmp_path)
    stack.src(PAIRS_DDL)
    stack.src("INSERT INTO pairs (a, b, v) SELECT 'k' || i, 'x', 'v' || i FROM generate_series(1, 50) i")
    return stack


def merge(stack: Stack, spec: JobSpec, dataset: str = "pairs") -> tuple[dict[str, int], dict[str, Any]]:
    """Run a batch; its metrics and the dataset's change capture as the batch recorded it."""
    outcome = run_snapshot_merge(spec, stack.source_url, stack.merge_url)
    assert outcome.outcome == "done", outcome.error
    ((state,),) = stack.merged(
        f'SELECT state FROM "{platform_schema(spec.platform)}".batches WHERE batch_id = %s', (outcome.batch,)
    )
    return outcome.datasets[dataset], {"staged": state["rows"][dataset], **state["capture"][dataset]}


def source_rows(stack: Stack) -> list[tuple]:
    return stack.source_rows("pairs", COLUMNS)


@pytest.mark.parametrize("strategy", ["live", "forensic"])
def test_a_batch_stages_only_what_changed_and_finds_deletes(stack: Stack, strategy: str) -> None:
    spec = pairs_spec(strategy)
    metrics, capture = merge(stack, spec)
    assert capture["since"] is None and capture["staged"] == 50  # the first batch reads everything
    metrics, capture = merge(stack, spec)
    assert metrics == {"inserted": 0, "updated": 0, "deleted": 0, "total": 50}
    assert capture["since"] is not None and capture["staged"] == 0 and capture["keys"] is None
    stack.src("UPDATE pairs SET v = NULL WHERE a = 'k1'")
    stack.src("UPDATE pairs SET v = v WHERE a = 'k2'")  # a new row version, same values: no change
    stack.src("INSERT INTO pairs (a, b, v) VALUES ('new', 'x', '')")
    metrics, capture = merge(stack, spec)
    assert metrics == {"inserted": 1, "updated": 1, "deleted": 0, "total": 51}
    assert capture["staged"] == 3 and capture["keys"] is None  # no deletes: no keys copied
    stack.src("DELETE FROM pairs WHERE a IN ('k3', 'k4')")
    stack.src("UPDATE pairs SET v = 'changed' WHERE a = 'k5'")
    metrics, capture = merge(stack, spec)
    assert metrics == {"inserted": 0, "updated": 1, "deleted": 2, "total": 49}
    assert capture["staged"] == 1 and capture["keys"] == 48
    assert stack.live_rows(spec, "pairs", COLUMNS) == source_rows(stack)
    keys = DatasetTables.of(spec, spec.datasets[0]).keys
    assert stack.merged(f"SELECT reloptions FROM pg_class WHERE oid = '{keys}'::regclass") == [
        (["autovacuum_enabled=false"],)  # scratch: workflows/tables.py SCRATCH_OPTIONS
    ]
    if strategy == "forensic":
        assert [len(stack.as_of(spec, "pairs", COLUMNS, b)) for b in (1, 2, 3, 4)] == [50, 50, 51, 49]


def test_a_transaction_running_during_a_batch_is_seen_by_the_next(stack: Stack) -> None:
    """Rows written by a transaction (and its subtransactions) that commits after a batch's
    snapshot have ids older than that snapshot's newest: the watermark is the snapshot's oldest
    running transaction, so the next batch still reads them."""
    spec = pairs_spec()
    merge(stack, spec)
    producer = stack.pg.connect(stack.source_db)
    try:
        with producer.cursor() as cursor:
            cursor.execute("UPDATE pairs SET v = 'early' WHERE a = 'k1'")
            cursor.execute("SAVEPOINT s")
            cursor.execute("UPDATE pairs SET v = 'savepoint' WHERE a = 'k2'")
            cursor.execute("RELEASE SAVEPOINT s")
            metrics, _ = merge(stack, spec)  # the producer's transaction is still open
            assert metrics["updated"] == 0
            cursor.execute("DELETE FROM pairs WHERE a = 'k3'")
        producer.commit()
    finally:
        producer.close()
    metrics, capture = merge(stack, spec)
    assert capture["since"] is not None
    assert metrics == {"inserted": 0, "updated": 2, "deleted": 1, "total": 49}
    assert stack.live_rows(spec, "pairs", COLUMNS) == source_rows(stack)


def test_frozen_and_rewritten_rows_keep_their_changes(stack: Stack) -> None:
    """VACUUM FREEZE keeps a row's raw xmin; VACUUM FULL rewrites the table with the rows as they are."""
    spec = pairs_spec()
    merge(stack, spec)
    stack.src("UPDATE pairs SET v = 'frozen' WHERE a = 'k1'")
    stack.src("VACUUM FREEZE pairs")
    stack.src("UPDATE pairs SET v = 'rewritten' WHERE a = 'k2'")
    stack.src("VACUUM FULL pairs")
    metrics, capture = merge(stack, spec)
    assert capture["since"] is not None
    assert metrics == {"inserted": 0, "updated": 2, "deleted": 0, "total": 50}
    assert stack.live_rows(spec, "pairs", COLUMNS) == source_rows(stack)


@pytest.mark.parametrize(
    "change",
    [
        # Re-created with the same rows and one different: another table (its oid).
        (
            "CREATE TABLE fresh (LIKE pairs INCLUDING ALL); INSERT INTO fresh SELECT * FROM pairs; "
            "UPDATE fresh SET v = 'other' WHERE a = 'k1'; DROP TABLE pairs; ALTER TABLE fresh RENAME TO pairs"
        ),
        # A type change without a rewrite keeps every xmin.
        "ALTER TABLE pairs ALTER COLUMN v TYPE varchar(20)",
        # Without a unique index, candidate and unchanged keys could overlap.
        "ALTER TABLE pairs DROP CONSTRAINT pairs_pkey",
        # An inheritance child brings in rows with old transaction ids.
        "CREATE TABLE child () INHERITS (pairs)",
    ],
    ids=["recreated", "type-changed", "unique-index-dropped", "child-attached"],
)
def test_anything_else_that_could_change_rows_makes_a_batch_read_everything(stack: Stack, change: str) -> None:
    spec = pairs_spec()
    merge(stack, spec)
    stack.src(change)
    metrics, capture = merge(stack, spec)
    assert capture["since"] is None and capture["staged"] == 50
    assert metrics["total"] == 50
    assert stack.live_rows(spec, "pairs", COLUMNS) == source_rows(stack)


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        # Fewer current rows than unchanged ones: ingestion sees it and reads every row.
        ("DELETE FROM {table} WHERE a IN ('k1', 'k2')", {"inserted": 2, "updated": 0, "deleted": 1, "total": 49}),
        # Same number of rows, one key replaced: the merge finds two deletes (the replacement and
        # k9) where the counts promise one, and the batch is ingested again reading every row.
        ("UPDATE {table} SET a = 'zz' WHERE a = 'k1'", {"inserted": 1, "updated": 0, "deleted": 2, "total": 49}),
    ],
    ids=["rows-deleted", "key-replaced"],
)
def test_a_merge_table_changed_behind_the_jobs_back_is_repaired(
    stack: Stack, tampering: str, expected: dict[str, int]
) -> None:
    spec = pairs_spec()
    merge(stack, spec)
    stack.merged(tampering.format(table=stack.table(spec, "pairs")))
    stack.src("DELETE FROM pairs WHERE a = 'k9'")
    metrics, capture = merge(stack, spec)
    assert capture["since"] is None and capture["staged"] == 49
    assert metrics == expected
    assert stack.live_rows(spec, "pairs", COLUMNS) == source_rows(stack)
    _, capture = merge(stack, spec)
    assert capture["since"] is not None  # and the next batch reads changes again


def test_reset_batch_makes_the_batch_read_everything(stack: Stack) -> None:
    spec = pairs_spec()
    merge(stack, spec)
    stack.src("UPDATE pairs SET v = 'r' WHERE a = 'k1'")
    paused = run_snapshot_merge(spec, stack.source_url, stack.merge_url, max_seconds=0)
    assert paused.outcome == "keep_working"
    reset_batch(spec, stack.merge_url)
    metrics, capture = merge(stack, spec)
    assert capture["since"] is None and capture["staged"] == 50
    assert metrics == {"inserted": 0, "updated": 1, "deleted": 0, "total": 50}


def test_a_producer_that_refuses_a_function_is_read_whole_not_failed(stack: Stack) -> None:
    """A role that may not call one of the functions the identity needs (as on some managed
    services): every batch reads every row, and none fails."""
    role = f"reader_{stack.source_db}"
    stack.src(f'CREATE ROLE "{role}" LOGIN; GRANT SELECT ON pairs TO "{role}"')
    stack.src("REVOKE EXECUTE ON FUNCTION pg_walfile_name(pg_lsn) FROM PUBLIC")  # in this database only
    reader = make_url(stack.source_url).set(username=role).render_as_string(hide_password=False)
    spec = pairs_spec()
    for _ in range(2):
        outcome = run_snapshot_merge(spec, reader, stack.merge_url)
        assert outcome.outcome == "done", outcome.error
    ((state,),) = stack.merged(f'SELECT state FROM "{platform_schema(spec.platform)}".batches WHERE batch_id = 2')
    assert state["capture"]["pairs"]["identity"] is None and state["rows"]["pairs"] == 50
    stack.src(f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')


def test_change_capture_can_be_turned_off(stack: Stack) -> None:
    spec = pairs_spec()
    spec = replace(spec, merge_settings=MergeSettings(change_capture=False))
    merge(stack, spec)
    _, capture = merge(stack, spec)
    assert capture["since"] is None and capture["staged"] == 50 and capture["identity"] is None


def test_parallel_ingestion_reads_changes_too(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflows.copy_plan, "MIN_SCAN_SPLIT_BLOCKS", 0)  # split even this table's one block
    parallel = workflows.ingest._ingest_in_parallel
    pieces: list[int] = []

    def in_parallel(*args: Any) -> dict[str, int]:
        pieces.append(len(args[4]))  # its chunks
        return parallel(*args)

    monkeypatch.setattr(workflows.ingest, "_ingest_in_parallel", in_parallel)
    spec = pairs_spec()
    merge(stack, spec)
    stack.src("UPDATE pairs SET v = 'p' WHERE a = 'k7'")
    stack.src("DELETE FROM pairs WHERE a = 'k8'")
    outcome = run_snapshot_merge(spec, stack.source_url, stack.merge_url, parallel=3)
    assert pieces == [3]  # the candidates read over three connections
    assert outcome.datasets["pairs"] == {"inserted": 0, "updated": 1, "deleted": 1, "total": 49}
    assert stack.live_rows(spec, "pairs", COLUMNS) == source_rows(stack)


def test_the_counts_read_the_batchs_snapshot_whatever_the_producer_commits_meanwhile(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The producer's count runs on a connection of its own: a commit just before that connection
    imports the snapshot (two inserts and a delete) is in neither the count nor the batch, so the
    deletes counted are exactly the ones found and nothing is read twice (a count from a newer
    snapshot would contradict the merge table, and the batch would read everything)."""
    spec = pairs_spec()
    merge(stack, spec)
    stack.src("UPDATE pairs SET v = 'p' WHERE a = 'k7'")
    stack.src("DELETE FROM pairs WHERE a = 'k8'")
    reader = workflows.ingest._snapshot_reader
    imports: list[str] = []

    def commit_then_read(source_db: Any, snapshot: str | None = None) -> Any:
        if snapshot is not None:  # the counting connection, about to import the batch's snapshot
            stack.src(
                "BEGIN; INSERT INTO pairs VALUES ('late1', 'x', 'l'), ('late2', 'x', 'l');"
                "DELETE FROM pairs WHERE a = 'k9'; COMMIT"
            )
            imports.append(snapshot)
        return reader(source_db, snapshot)

    monkeypatch.setattr(workflows.ingest, "_snapshot_reader", commit_then_read)
    metrics, capture = merge(stack, spec)
    assert len(imports) == 1
    assert metrics == {"inserted": 0, "updated": 1, "deleted": 1, "total": 49}
    assert capture["since"] is not None and capture["staged"] == 1 and capture["keys"] == 48
    monkeypatch.setattr(workflows.ingest, "_snapshot_reader", reader)
    metrics, _ = merge(stack, spec)  # the next batch sees the commit
    assert metrics == {"inserted": 2, "updated": 0, "deleted": 1, "total": 50}
    assert stack.live_rows(spec, "pairs", COLUMNS) == source_rows(stack)


def test_a_watermark_is_used_only_for_the_same_table_and_a_recent_snapshot() -> None:
    assert changes_since(None, "t", 100) is None
    assert changes_since(("t", 90), "t", 100) == 90
    assert changes_since(("t", 90), "u", 100) is None  # another table, server, timeline or model
    assert changes_since(("t", 90), None, None) is None  # this batch cannot be trusted
    assert changes_since(("t", 100), "t", 99) is None  # transaction ids went back: a restored server
    assert changes_since(("t", 1), "t", 1 + MAX_DISTANCE) is None  # age() would wrap
    assert candidates((5 << 32) + 7) == "age(xmin) <= age(CAST('7' AS xid))"


NUMS_DDL = "CREATE TABLE nums (id bigint, part integer, v text, PRIMARY KEY (part, id))"
NUMS = ["id", "part", "v"]


def nums_spec(strategy: str = "live") -> JobSpec:
    """Keys of two integer columns, the producer's unique index in the other column order."""
    columns = [
        ColumnSpec(name="id", sql_type="BIGINT", nullable=False, key_position=0),
        ColumnSpec(name="part", sql_type="INTEGER", nullable=False, key_position=1),
        ColumnSpec(name="v", sql_type="TEXT", nullable=True),
    ]
    base = pairs_spec(strategy)
    return replace(base, platform="N", datasets=[DatasetSpec(name="nums", source_table="nums", columns=columns)])


@pytest.fixture
def nums(stack: Stack) -> Stack:
    stack.src(NUMS_DDL)
    # negative and extreme keys: their binary forms do not sort as bytes do
    stack.src("INSERT INTO nums SELECT i * 7919 - 400000, i % 3, 'v' || i FROM generate_series(1, 120) i")
    stack.src("INSERT INTO nums VALUES (-9223372036854775808, 0, 'min'), (9223372036854775807, 2, 'max')")
    return stack


@pytest.mark.parametrize("strategy", ["live", "forensic"])
def test_deletes_under_integer_keys_extreme_ones_included(nums: Stack, strategy: str) -> None:
    spec = nums_spec(strategy)
    merge(nums, spec, "nums")
    nums.src("DELETE FROM nums WHERE id IN (-9223372036854775808, 9223372036854775807) OR id % 5 = 0")
    nums.src("UPDATE nums SET v = 'changed' WHERE id % 5 = 1")
    nums.src("INSERT INTO nums VALUES (5, 1, 'new'), (-5, 0, 'new')")
    metrics, capture = merge(nums, spec, "nums")
    remainders = [int(math.fmod(i * 7919 - 400000, 5)) for i in range(1, 121)]  # SQL's %, not Python's
    deleted, updated = 2 + remainders.count(0), remainders.count(1)
    assert metrics == {"inserted": 2, "updated": updated, "deleted": deleted, "total": 122 - deleted + 2}
    assert capture["since"] is not None and capture["deletes"] == deleted
    assert capture["keys"] == 122 - deleted - updated  # the unchanged rows' keys, copied to find the deletes
    assert nums.live_rows(spec, "nums", NUMS) == nums.source_rows("nums", NUMS)
    # everything deleted: no unchanged key at all
    nums.src("DELETE FROM nums")
    metrics, capture = merge(nums, spec, "nums")
    assert metrics == {"inserted": 0, "updated": 0, "deleted": 122 - deleted + 2, "total": 0}
    assert nums.live_rows(spec, "nums", NUMS) == []
    if strategy == "forensic":
        assert [len(nums.as_of(spec, "nums", NUMS, b)) for b in (1, 2, 3)] == [122, 122 - deleted + 2, 0]


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        # fewer current rows than unchanged ones: the counts contradict the merge table
        ("DELETE FROM {table} WHERE id IN (9223372036854775807, -392081)", {"inserted": 2, "updated": 0, "deleted": 1}),
        # the counts promise one delete; the merge finds two (the replacement too)
        ("UPDATE {table} SET id = 1 WHERE id = 9223372036854775807", {"inserted": 1, "updated": 0, "deleted": 2}),
    ],
    ids=["row-deleted", "key-replaced"],
)
def test_integer_keys_changed_behind_the_jobs_back_are_repaired(
    nums: Stack, tampering: str, expected: dict[str, int]
) -> None:
    spec = nums_spec()
    merge(nums, spec, "nums")
    nums.merged(tampering.format(table=nums.table(spec, "nums")))
    nums.src("DELETE FROM nums WHERE id = -9223372036854775808")
    metrics, capture = merge(nums, spec, "nums")
    assert capture["since"] is None and capture["staged"] == 121  # read again, every row
    assert metrics == {**expected, "total": 121}
    assert nums.live_rows(spec, "nums", NUMS) == nums.source_rows("nums", NUMS)
