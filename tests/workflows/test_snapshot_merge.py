"""Snapshot-merge on a real PostgreSQL: live and forensic lifecycles, exact metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.merge_stack import ADDRESS_COLUMNS, CUSTOMER_COLUMNS, Stack, mvp_spec, seed
from tests.support.pg import PostgresServer


@pytest.fixture
def stack(postgres: PostgresServer, tmp_path: Path) -> Stack:
    return Stack(postgres, tmp_path)


def change_like_the_seed(stack: Stack) -> None:
    """4 inserted, 3 updated, 1 deleted across the store (the seed's example)."""
    stack.src("INSERT INTO customers VALUES ('C6', 'New', 'Person', '1990-02-02', NULL, NULL, NULL, NULL)")
    stack.src("INSERT INTO customers VALUES ('C7', 'Other', 'Person', '1991-03-03', '', NULL, NULL, NULL)")
    stack.src("INSERT INTO addresses VALUES ('A9', 'C6', '9 Elm St', 'Shelbyville', 'IL', '62565')")
    stack.src("INSERT INTO addresses VALUES ('A10', 'C7', '10 Oak St', 'Shelbyville', 'IL', '62565')")
    stack.src("UPDATE customers SET email = 'changed@example.com' WHERE id = 'C1'")
    stack.src("UPDATE customers SET phone = NULL WHERE id = 'C2'")
    stack.src("UPDATE addresses SET city = 'Capital City' WHERE id = 'A1'")
    stack.src("DELETE FROM addresses WHERE id = 'A8'")


def test_live_lifecycle_with_exact_metrics(stack: Stack) -> None:
    spec = mvp_spec("YellowLive")
    code, empty, err = stack.run(spec)
    assert code == 0, err
    assert empty == {
        "outcome": "done",
        "stream": "Store1",
        "batch": 1,
        "schema_changed": True,
        "datasets": {
            "addresses": {"inserted": 0, "updated": 0, "deleted": 0, "total": 0},
            "customers": {"inserted": 0, "updated": 0, "deleted": 0, "total": 0},
        },
    }
    seed(stack)
    code, first, err = stack.run(spec)
    assert code == 0, err
    assert first["batch"] == 2 and "schema_changed" not in first
    assert first["datasets"]["customers"] == {"inserted": 5, "updated": 0, "deleted": 0, "total": 5}
    assert first["datasets"]["addresses"] == {"inserted": 8, "updated": 0, "deleted": 0, "total": 8}
    change_like_the_seed(stack)
    code, second, err = stack.run(spec)
    assert code == 0, err
    assert second["datasets"]["customers"] == {"inserted": 2, "updated": 2, "deleted": 0, "total": 7}
    assert second["datasets"]["addresses"] == {"inserted": 2, "updated": 1, "deleted": 1, "total": 9}
    totals = {k: sum(d[k] for d in second["datasets"].values()) for k in ("inserted", "updated", "deleted")}
    assert totals == {"inserted": 4, "updated": 3, "deleted": 1}
    assert stack.live_rows(spec, "customers", CUSTOMER_COLUMNS) == stack.source_rows("customers", CUSTOMER_COLUMNS)
    assert stack.live_rows(spec, "addresses", ADDRESS_COLUMNS) == stack.source_rows("addresses", ADDRESS_COLUMNS)
    stored = stack.merged(
        f"SELECT inserted, updated, deleted, total FROM {stack.table(spec, 'customers').rsplit('.', 1)[0]}.batch_metrics WHERE batch_id = 3 AND dataset = 'customers'"
    )
    assert stored == [(2, 2, 0, 7)]


def test_forensic_lifecycle_with_exact_milestones(stack: Stack) -> None:
    spec = mvp_spec("YellowForensic")
    seed(stack)
    assert stack.run(spec)[0] == 0  # batch 1: everything inserted
    stack.src("UPDATE customers SET email = 'v2@example.com' WHERE id = 'C1'")
    stack.src("DELETE FROM customers WHERE id = 'C5'")
    code, second, _ = stack.run(spec)  # batch 2
    assert code == 0 and second["datasets"]["customers"] == {"inserted": 0, "updated": 1, "deleted": 1, "total": 4}
    stack.src(
        "INSERT INTO customers VALUES ('C5', 'First5', 'Last5', '1980-01-05', 'back@example.com', NULL, NULL, NULL)"
    )
    stack.src("UPDATE customers SET email = 'v3@example.com' WHERE id = 'C1'")
    code, third, _ = stack.run(spec)  # batch 3: C5 comes back, C1 changes again
    assert third["datasets"]["customers"] == {"inserted": 1, "updated": 1, "deleted": 0, "total": 5}
    code, fourth, _ = stack.run(spec)  # batch 4: nothing changed
    assert fourth["datasets"]["customers"] == {"inserted": 0, "updated": 0, "deleted": 0, "total": 5}

    live = 9223372036854775807
    assert stack.versions(spec, "customers", "C1") == [(1, 2), (2, 3), (3, live)]
    assert stack.versions(spec, "customers", "C5") == [(1, 2), (3, live)]  # closed at 2, a new version at 3
    assert stack.versions(spec, "customers", "C2") == [(1, live)]
    assert [r[0] for r in stack.as_of(spec, "customers", ["id"], 2)] == ["C1", "C2", "C3", "C4"]
    emails = {b: {r[0]: r[4] for r in stack.as_of(spec, "customers", CUSTOMER_COLUMNS, b)} for b in (1, 2, 3)}
    assert (emails[1]["C1"], emails[2]["C1"], emails[3]["C1"]) == ("c1@example.com", "v2@example.com", "v3@example.com")
    assert stack.as_of(spec, "customers", CUSTOMER_COLUMNS, 4) == stack.source_rows("customers", CUSTOMER_COLUMNS)


def test_empty_source_and_no_change_batches_leave_everything_as_is(stack: Stack) -> None:
    spec = mvp_spec("YellowLive")
    assert stack.run(spec)[1]["datasets"]["customers"]["total"] == 0
    seed(stack)
    stack.run(spec)
    before = stack.merged(f"SELECT * FROM {stack.table(spec, 'customers')} ORDER BY 1")
    code, again, _ = stack.run(spec)
    assert code == 0 and again["datasets"]["customers"] == {"inserted": 0, "updated": 0, "deleted": 0, "total": 5}
    assert (
        stack.merged(f"SELECT * FROM {stack.table(spec, 'customers')} ORDER BY 1") == before
    )  # not even batch_in moved
    stack.src("DELETE FROM addresses")
    stack.src("DELETE FROM customers")
    code, emptied, _ = stack.run(spec)
    assert emptied["datasets"]["customers"] == {"inserted": 0, "updated": 0, "deleted": 5, "total": 0}
    assert stack.live_rows(spec, "customers", ["id"]) == []


def test_delete_then_reinsert_in_live(stack: Stack) -> None:
    spec = mvp_spec("YellowLive")
    seed(stack)
    stack.run(spec)
    stack.src("DELETE FROM customers WHERE id = 'C3'")
    assert stack.run(spec)[1]["datasets"]["customers"]["deleted"] == 1
    stack.src("INSERT INTO customers VALUES ('C3', 'Again', 'Here', '1999-09-09', NULL, NULL, NULL, NULL)")
    assert stack.run(spec)[1]["datasets"]["customers"]["inserted"] == 1
    assert stack.live_rows(spec, "customers", CUSTOMER_COLUMNS) == stack.source_rows("customers", CUSTOMER_COLUMNS)


def test_keep_working_when_the_time_budget_runs_out_after_ingestion(stack: Stack, tmp_path: Path) -> None:
    """The budget is checked between ingestion and the merge, which is one step for the whole
    stream: a keep-working pause never shows one dataset at the new batch beside another at the old."""
    spec = mvp_spec("YellowLive")
    seed(stack)
    code, first, _ = stack.run(spec, "--max-seconds", "0")
    assert code == 10 and first["outcome"] == "keep_working" and first["datasets"] == {}
    assert stack.live_rows(spec, "addresses", ["id"]) == [] and stack.live_rows(spec, "customers", ["id"]) == []
    outcome_dir = tmp_path / "outcome"
    code, second, _ = stack.run(spec, "--max-seconds", "0", "--outcome-dir", str(outcome_dir))
    assert code == 0 and second["outcome"] == "done" and second["batch"] == first["batch"]
    assert set(second["datasets"]) == {"addresses", "customers"}
    assert (outcome_dir / "outcome").read_text() == "done" and (outcome_dir / "batch").read_text() == str(
        first["batch"]
    )
    assert (outcome_dir / "schema_changed").read_text() == "false"
