"""Snapshot-merge edge cases: change detection, snapshots, crashes, locks, resets, schema evolution, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from msgspec.structs import replace

from tests.support.merge_stack import (
    ADDRESS_COLUMNS,
    CUSTOMER_COLUMNS,
    PAIRS_DDL,
    Stack,
    mvp_spec,
    pairs_spec,
    seed,
)
from tests.support.pg import DedicatedServer, PostgresServer
from workflows.spec import ColumnSpec
from workflows.tables import LIVE, DatasetTables


@pytest.fixture
def stack(postgres: PostgresServer, tmp_path: Path) -> Stack:
    return Stack(postgres, tmp_path)


def test_change_detection_tells_null_from_empty_and_keys_never_collide(stack: Stack) -> None:
    spec = pairs_spec()
    stack.src(PAIRS_DDL)
    stack.src("INSERT INTO pairs (a, b, v) VALUES ('1', '23', NULL), ('12', '3', '')")
    code, first, err = stack.run(spec)
    assert code == 0, err
    assert first["datasets"]["pairs"]["inserted"] == 2  # ('1','23') and ('12','3') are two keys
    stack.src("UPDATE pairs SET v = '' WHERE a = '1'")  # NULL -> ''
    stack.src("UPDATE pairs SET v = NULL WHERE a = '12'")  # '' -> NULL
    code, second, _ = stack.run(spec)
    assert second["datasets"]["pairs"] == {"inserted": 0, "updated": 2, "deleted": 0, "total": 2}
    assert stack.live_rows(spec, "pairs", ["a", "b", "v"]) == [("1", "23", ""), ("12", "3", None)]


def test_change_detection_does_not_depend_on_session_settings(stack: Stack) -> None:
    spec = pairs_spec()
    stack.src(PAIRS_DDL)
    stack.src("INSERT INTO pairs VALUES ('k', 'x', 'v', '2024-03-01 12:34:56.789', '2024-02-29', 0.1, 12.50)")
    assert stack.run(spec)[0] == 0
    for database in (stack.source_db, stack.merge_db):
        stack.pg.execute(database, f"ALTER DATABASE \"{database}\" SET TimeZone = 'Pacific/Chatham'")
        stack.pg.execute(database, f"ALTER DATABASE \"{database}\" SET DateStyle = 'SQL, DMY'")
        stack.pg.execute(database, f'ALTER DATABASE "{database}" SET extra_float_digits = -3')
    code, again, _ = stack.run(spec)
    assert code == 0 and again["datasets"]["pairs"] == {"inserted": 0, "updated": 0, "deleted": 0, "total": 1}
    assert stack.live_rows(spec, "pairs", ["a", "f"]) == [("k", 0.1)]


def test_a_multi_dataset_store_lands_one_consistent_snapshot(stack: Stack) -> None:
    """The producer commits a change between the copies of two tables; staging must not see it."""
    spec = mvp_spec("YellowLive")
    seed(stack)

    def producer_writes(dataset: str) -> None:
        if dataset == "addresses":  # addresses copied; customers not yet
            stack.src("INSERT INTO customers VALUES ('C9', 'Late', 'Comer', '2000-01-01', NULL, NULL, NULL, NULL)")
            stack.src("INSERT INTO addresses VALUES ('A99', 'C9', '1 Late St', 'X', 'Y', '1')")

    rows = stack.ingest(spec, on_dataset=producer_writes)
    staged = stack.staged(spec, "customers", "id")
    assert rows == {"addresses": 8, "customers": 5}
    assert len(staged) == 5 and ("C9",) not in staged  # C9 committed after the snapshot began: not in this batch


PHASES = ["started", "ingest:addresses", "ingested", "merge:addresses", "merged:addresses", "merge:customers"]


@pytest.mark.parametrize("failpoint", PHASES)
def test_a_crash_at_any_point_then_a_rerun_converges(postgres: PostgresServer, tmp_path: Path, failpoint: str) -> None:
    results = {}
    for label, crash in (("clean", None), ("crashed", failpoint)):
        stack = Stack(postgres, tmp_path / label)
        (tmp_path / label).mkdir()
        spec = mvp_spec("YellowForensic")
        seed(stack)
        assert stack.run(spec)[0] == 0
        stack.src("UPDATE customers SET email = NULL WHERE id = 'C1'")
        stack.src("DELETE FROM addresses WHERE id = 'A2'")
        stack.src("INSERT INTO addresses VALUES ('A20', 'C1', '20 New St', 'X', 'Y', '1')")
        if crash:
            code, _, _ = stack.run(spec, env={"DATASURFACE_FAILPOINT": crash})
            assert code == -9  # killed at the failpoint
        code, outcome, err = stack.run(spec)
        assert code == 0, err
        results[label] = (
            outcome,
            stack.merged(f"SELECT * FROM {stack.table(spec, 'customers')} ORDER BY id, ds_surf_batch_in"),
            stack.merged(f"SELECT * FROM {stack.table(spec, 'addresses')} ORDER BY id, ds_surf_batch_in"),
        )
    assert results["crashed"] == results["clean"]
    assert results["clean"][0]["datasets"]["addresses"] == {"inserted": 1, "updated": 0, "deleted": 1, "total": 8}


def test_a_first_load_is_copied_straight_into_the_merge_tables(stack: Stack) -> None:
    spec = mvp_spec("YellowForensic")
    seed(stack)
    code, outcome, err = stack.run(spec)
    assert code == 0, err
    assert outcome["datasets"]["addresses"] == {"inserted": 8, "updated": 0, "deleted": 0, "total": 8}
    assert outcome["datasets"]["customers"] == {"inserted": 5, "updated": 0, "deleted": 0, "total": 5}
    assert stack.staged(spec, "customers") == []  # no staging pass
    assert stack.live_rows(spec, "customers", CUSTOMER_COLUMNS) == stack.source_rows("customers", CUSTOMER_COLUMNS)
    assert {
        v
        for (key,) in stack.merged(f"SELECT id FROM {stack.table(spec, 'addresses')}")
        for v in stack.versions(spec, "addresses", key)
    } == {(1, LIVE)}
    live_partition = DatasetTables.of(spec, spec.datasets[0]).current
    unique = stack.merged(
        f"SELECT count(*) FROM pg_index WHERE indrelid = '{live_partition}'::regclass AND indisunique"
    )
    assert unique == [(1,)]  # its key index is there after the load
    stack.src("UPDATE customers SET email = NULL WHERE id = 'C1'")
    code, second, err = stack.run(spec)
    assert code == 0, err
    assert second["datasets"]["customers"] == {"inserted": 0, "updated": 1, "deleted": 0, "total": 5}


FIRST_LOAD_PHASES = ["ingest:addresses", "ingest:customers", "ingested", "merged:addresses", "merged:customers"]


@pytest.mark.parametrize("failpoint", FIRST_LOAD_PHASES)
def test_a_crash_during_a_first_load_publishes_nothing_and_a_rerun_loads_it(stack: Stack, failpoint: str) -> None:
    spec = mvp_spec("YellowForensic")
    seed(stack)
    assert stack.run(spec, env={"DATASURFACE_FAILPOINT": failpoint})[0] == -9
    for dataset in ("addresses", "customers"):
        assert stack.merged(f"SELECT count(*) FROM {stack.table(spec, dataset)}") == [(0,)]
    code, outcome, err = stack.run(spec)
    assert code == 0, err
    assert outcome["batch"] == 1
    assert outcome["datasets"]["addresses"] == {"inserted": 8, "updated": 0, "deleted": 0, "total": 8}
    assert stack.live_rows(spec, "addresses", ADDRESS_COLUMNS) == stack.source_rows("addresses", ADDRESS_COLUMNS)


@pytest.mark.parametrize("first_load", [True, False], ids=["first-load", "later-batch"])
def test_a_producer_without_a_unique_key_holding_one_key_twice_is_refused(stack: Stack, first_load: bool) -> None:
    spec = pairs_spec()
    stack.src(PAIRS_DDL.replace(", PRIMARY KEY (a, b)", ""))
    stack.src("INSERT INTO pairs (a, b, v) VALUES ('1', '1', 'x'), ('2', '2', 'y')")
    if not first_load:
        assert stack.run(spec)[0] == 0
    stack.src("INSERT INTO pairs (a, b, v) VALUES ('1', '1', 'again')")
    before = stack.live_rows(spec, "pairs", ["a", "b", "v"]) if not first_load else []
    code, outcome, err = stack.run(spec)
    assert code == 1 and outcome["transient"] is False
    assert "dataset pairs: the source has several rows with one primary key" in err
    assert stack.live_rows(spec, "pairs", ["a", "b", "v"]) == before  # nothing merged
    stack.src("DELETE FROM pairs WHERE v = 'again'")
    assert stack.run(spec)[0] == 0
    assert stack.live_rows(spec, "pairs", ["a", "b", "v"]) == [("1", "1", "x"), ("2", "2", "y")]


def test_a_server_crash_that_empties_unlogged_staging_is_ingested_again(tmp_path: Path) -> None:
    """Staging is unlogged: crash recovery empties it. A batch ingested before the crash must be
    ingested again, not merged from empty staging (which would delete every row)."""
    server = DedicatedServer(tmp_path / "pg")
    try:
        stack = Stack(server, tmp_path)
        spec = mvp_spec("YellowLive")
        seed(stack)
        assert stack.run(spec)[0] == 0
        staging = DatasetTables.of(spec, spec.datasets[0]).staging
        assert stack.merged(f"SELECT relpersistence FROM pg_class WHERE oid = '{staging}'::regclass") == [("u",)]
        stack.src("DELETE FROM addresses WHERE id = 'A2'")
        stack.src("INSERT INTO addresses VALUES ('A20', 'C1', '20 New St', 'X', 'Y', '1')")
        assert stack.run(spec, env={"DATASURFACE_FAILPOINT": "ingested"})[0] == -9  # batch 2 ingested
        server.crash()
        server.start()
        assert stack.merged(f"SELECT count(*) FROM {staging}") == [(0,)]  # crash recovery emptied it
        code, outcome, err = stack.run(spec)
        assert code == 0, err
        assert outcome["batch"] == 2
        assert outcome["datasets"]["addresses"] == {"inserted": 1, "updated": 0, "deleted": 1, "total": 8}
        assert outcome["datasets"]["customers"] == {"inserted": 0, "updated": 0, "deleted": 0, "total": 5}
        merged = stack.merged(f"SELECT id FROM {stack.table(spec, 'addresses')} ORDER BY id")
        assert merged == stack.src("SELECT id FROM addresses ORDER BY id")
    finally:
        server.server.cleanup()


def test_staging_made_by_an_older_version_becomes_unlogged_scratch_autovacuum_leaves_alone(stack: Stack) -> None:
    spec = mvp_spec("YellowLive")
    seed(stack)
    assert stack.run(spec)[0] == 0
    staging = DatasetTables.of(spec, spec.datasets[0]).staging
    scratch = f"SELECT relpersistence, reloptions FROM pg_class WHERE oid = '{staging}'::regclass"
    assert stack.merged(scratch) == [("u", ["autovacuum_enabled=false"])]
    stack.merged(f"ALTER TABLE {staging} SET LOGGED, RESET (autovacuum_enabled)")  # as older versions made it
    code, outcome, err = stack.run(spec)
    assert code == 0, err
    assert outcome["datasets"]["addresses"] == {"inserted": 0, "updated": 0, "deleted": 0, "total": 8}
    assert stack.merged(scratch) == [("u", ["autovacuum_enabled=false"])]


def test_two_runs_of_one_stream_never_interleave(stack: Stack) -> None:
    spec = mvp_spec("YellowLive")
    assert stack.run(spec)[0] == 0
    from workflows.batch import BatchStore
    from workflows.sqlnames import platform_schema

    key = BatchStore(platform_schema(spec.platform), spec.stream).lock_key()
    holder = stack.pg.connect(stack.merge_db)
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
    try:
        code, outcome, err = stack.run(spec)
        assert code == 11 and outcome["outcome"] == "error"
        assert "another run of stream Store1 is in progress" in err
    finally:
        holder.close()
    assert stack.run(spec)[0] == 0


def test_reset_batch_reingests_and_refuses_a_committed_batch(stack: Stack) -> None:
    import subprocess
    import sys

    spec = mvp_spec("YellowLive")
    seed(stack)

    def reset(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "handler.cli",
                "job",
                "reset-batch",
                "--spec",
                str(stack.spec_file(spec)),
                "--merge-url",
                stack.merge_url,
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert stack.run(spec)[0] == 0
    refused = reset()
    assert refused.returncode == 1 and "is committed and cannot be reset" in refused.stderr
    stack.src("UPDATE customers SET email = 'x@y.z' WHERE id = 'C4'")
    assert stack.run(spec, env={"DATASURFACE_FAILPOINT": "ingested"})[0] == -9
    stack.src("UPDATE customers SET email = 'later@y.z' WHERE id = 'C4'")  # after the staged snapshot
    done = reset("--dataset", "customers")
    assert done.returncode == 0, done.stderr
    assert "batch 2 of stream Store1 reset" in done.stdout
    assert reset("--dataset", "orders").returncode == 1
    _, outcome, _ = stack.run(spec)
    assert outcome["batch"] == 2 and outcome["datasets"]["customers"]["updated"] == 1
    assert ("C4", "later@y.z") in stack.live_rows(
        spec, "customers", ["id", "email"]
    )  # re-ingested, not the old staging


def test_a_new_nullable_column_is_added_between_batches(stack: Stack) -> None:
    spec = pairs_spec("forensic")
    stack.src(PAIRS_DDL)
    stack.src("INSERT INTO pairs (a, b, v) VALUES ('1', '1', 'x'), ('2', '2', 'y')")
    assert stack.run(spec)[0] == 0
    stack.src("ALTER TABLE pairs ADD COLUMN loyalty varchar(20)")
    stack.src("UPDATE pairs SET loyalty = 'gold' WHERE a = '2'")
    wider = pairs_spec("forensic", [ColumnSpec(name="loyalty", sql_type="VARCHAR(20)", nullable=True)])
    code, outcome, err = stack.run(wider)
    assert code == 0, err
    assert outcome["schema_changed"] is True
    assert outcome["datasets"]["pairs"] == {
        "inserted": 0,
        "updated": 1,
        "deleted": 0,
        "total": 2,
    }  # only the row that has a value
    assert stack.live_rows(wider, "pairs", ["a", "loyalty"]) == [("1", None), ("2", "gold")]


def test_widening_a_type_changes_no_row(stack: Stack) -> None:
    spec = pairs_spec()
    stack.src(PAIRS_DDL)
    stack.src("INSERT INTO pairs VALUES ('1', '1', 'x', NULL, '2024-01-01', NULL, 3.10)")
    assert stack.run(spec)[0] == 0
    columns = [
        c if c.name not in ("d", "n") else replace(c, sql_type={"d": "TIMESTAMP", "n": "NUMERIC(14,4)"}[c.name])
        for c in spec.datasets[0].columns
    ]
    wider = replace(spec, datasets=[replace(spec.datasets[0], columns=columns)])
    code, outcome, err = stack.run(wider)
    assert code == 0, err
    assert outcome["schema_changed"] is True and outcome["datasets"]["pairs"]["updated"] == 0


def test_column_names_match_exactly_then_case_insensitively(stack: Stack) -> None:
    spec = mvp_spec("YellowLive")
    seed(stack)
    assert stack.run(spec)[0] == 0  # firstName -> firstname (unique case-insensitive match)
    stack.src('ALTER TABLE customers ADD COLUMN "FIRSTNAME" varchar(10)')
    code, outcome, err = stack.run(spec)
    assert code == 1 and outcome["outcome"] == "error" and outcome["transient"] is False
    assert "firstName" in err and "FIRSTNAME" in err and "rename one" in err


def test_missing_table_is_permanent_and_an_unreachable_database_is_transient(stack: Stack) -> None:
    spec = mvp_spec("YellowLive")
    stack.src("DROP TABLE addresses")
    code, outcome, err = stack.run(spec)
    assert code == 1 and outcome["transient"] is False and "no table 'addresses'" in err
    dead = "postgresql://postgres@127.0.0.1:9/nowhere"
    code, outcome, err = stack.run(spec, "--source-url", dead)
    assert code == 75 and outcome["transient"] is True


def test_credentials_come_from_environment_variables_named_after_the_databases_role(tmp_path: Path) -> None:
    import subprocess
    import sys

    spec = mvp_spec("YellowLive")
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    result = subprocess.run(
        [sys.executable, "-m", "handler.cli", "job", "snapshot-merge", "--spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert (
        "set DATASURFACE_MERGE_USER and DATASURFACE_MERGE_PASSWORD (from the Kubernetes secret 'postgres-merge')"
        in result.stderr
    )


def test_an_invalid_spec_is_a_permanent_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "spec.json"
    path.write_text('{"spec_version": 2}')
    result = subprocess.run(
        [sys.executable, "-m", "handler.cli", "job", "snapshot-merge", "--spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "cannot use job spec" in result.stderr and "Traceback" not in result.stderr
