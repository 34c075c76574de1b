"""Consumer views: the whole chain from the producer to what consumers read."""

from __future__ import annotations

from pathlib import Path

import pytest
from msgspec.structs import replace

from tests.support.merge_stack import ADDRESS_COLUMNS, CUSTOMER_COLUMNS, mvp_spec
from tests.support.pg import PostgresServer
from tests.support.view_chain import ViewChain, assert_reader_reads_views_only, cli
from workflows.spec import ColumnSpec
from workflows.sqlnames import merge_table, platform_schema, qualified, staging_table


@pytest.fixture
def chain(postgres: PostgresServer, tmp_path: Path) -> ViewChain:
    return ViewChain(postgres, tmp_path)


def quoted(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def test_producer_to_views_end_to_end(chain: ViewChain) -> None:
    live, forensic = mvp_spec("YellowLive"), mvp_spec("YellowForensic")
    snapshots: dict[int, dict[str, list[tuple]]] = {}
    for round_seed in (None, 7, 8):  # the seed data, then two rounds of 50 simulated changes
        if round_seed is not None:
            simulated = cli(
                "simulate",
                "--db",
                chain.pg.url(chain.source_db),
                "--max-changes",
                "50",
                "--seed",
                str(round_seed),
                "--min-interval",
                "0",
                "--max-interval",
                "0",
            )
            assert simulated.returncode == 0, simulated.stderr
        state = {
            "customers": chain.producer("customers", CUSTOMER_COLUMNS),
            "addresses": chain.producer("addresses", ADDRESS_COLUMNS),
        }
        assert chain.merge(live)["outcome"] == "done"
        batch = chain.merge(forensic)["batch"]
        snapshots[batch] = state
    for spec in (live, forensic):
        result = chain.reconcile(spec)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 failed" in result.stdout

    final = snapshots[max(snapshots)]
    assert (
        chain.consumer(f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer1.livedsg_customers ORDER BY 1")
        == final["customers"]
    )
    assert (
        chain.consumer(f"SELECT {quoted(ADDRESS_COLUMNS)} FROM consumer1.livedsg_addresses ORDER BY 1")
        == final["addresses"]
    )
    assert (
        chain.consumer(f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer1.forensicdsg_customers ORDER BY 1")
        == final["customers"]
    )
    for batch, state in snapshots.items():
        for dataset, columns in (("customers", CUSTOMER_COLUMNS), ("addresses", ADDRESS_COLUMNS)):
            as_of_batch = chain.consumer(
                f"SELECT {quoted(columns)} FROM consumer1.forensicdsg_{dataset}_history "
                "WHERE ds_surf_batch_in <= %s AND (ds_surf_batch_out IS NULL OR %s < ds_surf_batch_out) ORDER BY 1",
                (batch, batch),
            )
            assert as_of_batch == state[dataset], f"{dataset} as of batch {batch}"
            committed = chain.consumer(
                f"SELECT ended_at FROM {qualified(platform_schema('YellowForensic'), 'batches')} WHERE batch_id = %s",
                (batch,),
            )[0][0]
            as_of_time = chain.consumer(
                f"SELECT {quoted(columns)} FROM consumer1.forensicdsg_{dataset}_history_as_of(%s) ORDER BY 1",
                (committed,),
            )
            assert as_of_time == state[dataset], f"{dataset} as of the commit of batch {batch}"
    versions = chain.consumer(
        "SELECT id, count(*) FROM consumer1.forensicdsg_customers_history GROUP BY id HAVING count(*) > 1"
    )
    assert versions, "simulated email and phone updates give customers more than one version"
    columns = [
        r[0]
        for r in chain.consumer(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'consumer1' AND table_name = 'forensicdsg_customers_history' ORDER BY ordinal_position"
        )
    ]
    assert columns == [
        *CUSTOMER_COLUMNS,
        "ds_surf_batch_in",
        "ds_surf_batch_out",
        "ds_surf_valid_from",
        "ds_surf_valid_to",
    ]


def test_the_workspace_role_reads_its_views_and_nothing_else(chain: ViewChain) -> None:
    spec = mvp_spec("YellowForensic")
    chain.merge(spec)
    assert chain.reconcile(spec).returncode == 0
    schema = platform_schema(spec.platform)
    merge = qualified(schema, merge_table(spec.store, "customers"))
    staging = qualified(schema, staging_table(spec.store, "customers"))
    conn = chain.pg.connect(chain.merge_db)
    try:
        assert_reader_reads_views_only(conn, "consumer1", 5, [merge, staging, qualified(schema, "batches")])
    finally:
        conn.close()


def test_appending_a_nullable_column_updates_the_views(chain: ViewChain) -> None:
    spec = mvp_spec("YellowLive")
    chain.merge(spec)
    assert chain.reconcile(spec).returncode == 0
    chain.pg.execute(chain.source_db, "ALTER TABLE customers ADD COLUMN loyalty varchar(20)")
    chain.pg.execute(chain.source_db, "UPDATE customers SET loyalty = 'gold' WHERE id = 'C2'")
    customers = spec.datasets[1]
    wider = replace(
        customers, columns=[*customers.columns, ColumnSpec(name="loyalty", sql_type="VARCHAR(20)", nullable=True)]
    )
    spec2 = replace(spec, datasets=[spec.datasets[0], wider])
    outcome = chain.merge(spec2)
    assert outcome["schema_changed"] is True
    assert chain.reconcile(spec2).returncode == 0
    assert chain.consumer(
        "SELECT id, loyalty FROM consumer1.livedsg_customers WHERE id IN ('C1', 'C2') ORDER BY 1"
    ) == [("C1", None), ("C2", "gold")]


def test_a_failing_view_is_reported_and_the_others_still_reconcile(chain: ViewChain) -> None:
    spec = mvp_spec("YellowLive")
    chain.merge(spec)
    chain.consumer("CREATE SCHEMA consumer1")
    chain.consumer("CREATE TABLE consumer1.livedsg_addresses (squatter int)")  # something else holds the name
    result = chain.reconcile(spec)
    assert result.returncode == 1
    assert (
        "FAILED consumer1.livedsg_addresses" in result.stdout and '"livedsg_addresses" is not a view' in result.stdout
    )
    assert "ok     consumer1.livedsg_customers" in result.stdout
    assert "2 reconciled, 1 failed" in result.stdout  # the role and the customers view
    assert chain.consumer("SELECT count(*) FROM consumer1.livedsg_customers") == [(5,)]


def test_views_exist_before_the_first_merge(chain: ViewChain) -> None:
    spec = mvp_spec("YellowForensic")
    result = chain.reconcile(spec)  # the PostSync hook runs right after deployment
    assert result.returncode == 0, result.stdout
    assert chain.consumer("SELECT count(*) FROM consumer1.forensicdsg_customers_history") == [(0,)]
