"""Snapshot-merge on a real PostgreSQL: live and forensic lifecycles, exact metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from .merge_helpers import ADDRESS_COLUMNS, CUSTOMER_COLUMNS, Stack, mvp_spec, seed
from .pg import PostgresServer


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
    assert empty == {"outcome": "done", "stream": "Store1", "batch": 1, "schema_changed": True,
                     "datasets": {"addresses": {"inserted": 0, "updated": 0, "deleted": 0, "total": 0},
                                  "customers": {"inserted": 0, "updated": 0, "deleted": 0, "total": 0}}}
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
    stored = stack.merged(f"SELECT inserted, updated, deleted, total FROM {stack.table(spec, 'customers').rsplit('.', 1)[0]}.batch_metrics WHERE batch_id = 3 AND dataset = 'customers'")
    assert stored == [(2, 2, 0, 7)]
