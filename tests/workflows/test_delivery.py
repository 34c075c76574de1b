"""Consumer databases: producer -> merge database -> a workspace's own database on another server.

The MVP's Consumer2 reads its views from ``consumer_db``; here that database lives on a second
PostgreSQL server, which the tests stop and start. Delivery is logical replication, so after each
step the tests wait until the consumer database has the merge database's last committed batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace

from tests.support.cli import run_cli
from tests.support.merge_stack import ADDRESS_COLUMNS, CUSTOMER_COLUMNS, mvp_spec
from tests.support.pg import DedicatedServer, PostgresServer, require_logical_replication
from tests.support.view_chain import ViewChain, assert_reader_reads_views_only
from workflows.db import CONSUMER_URLS_ENV
from workflows.spec import ColumnSpec, JobSpec
from workflows.sqlnames import merge_table, platform_schema, qualified

WAIT_SECONDS = 90


def quoted(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


class DeliveryChain(ViewChain):
    """The chain, with Consumer2's database on the second server."""

    def __init__(self, pg: PostgresServer, consumer_pg: DedicatedServer, tmp: Path) -> None:
        require_logical_replication(pg)
        super().__init__(pg, tmp)
        self.consumer_pg = consumer_pg
        self.consumer_db = consumer_pg.create_database("consumer_db")
        self.env = {CONSUMER_URLS_ENV: json.dumps({"consumer_db": consumer_pg.url(self.consumer_db)})}

    def consumer(self, sql: str, params: object = None) -> list[tuple]:
        """What Consumer2 reads: its own database."""
        return self.consumer_pg.execute(self.consumer_db, sql, params)

    def wait_delivered(self, *specs: JobSpec) -> None:
        """Until every table is copied and the consumer database has each stream's last batch."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            syncing = self.consumer("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')")
            behind = [spec.stream for spec in specs if self._last_batch(spec, consumer=True) != self._last_batch(spec)]
            if syncing == [(0,)] and not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not delivered after {WAIT_SECONDS} s: {syncing[0][0]} tables copying, {behind}")
            time.sleep(0.2)

    def _last_batch(self, spec: JobSpec, consumer: bool = False) -> int | None:
        sql = (
            f"SELECT max(batch_id) FROM {qualified(platform_schema(spec.platform), 'batches')} "
            "WHERE stream = %s AND status = 'committed'"
        )
        exists = f"SELECT to_regclass('{qualified(platform_schema(spec.platform), 'batches')}') IS NOT NULL"
        run = self.consumer if consumer else lambda q, p=None: self.pg.execute(self.merge_db, q, p)
        if run(exists) != [(True,)]:
            return None
        return run(sql, (spec.stream,))[0][0]

    def close(self) -> None:
        """Drop the subscriptions, which drops their slots on the merge database's server."""
        try:
            for (name,) in self.consumer("SELECT subname FROM pg_subscription"):
                self.consumer(f'DROP SUBSCRIPTION "{name}"')
        except Exception:  # noqa: BLE001 - a stopped server has nothing to drop; its slots go with the test server
            return


@pytest.fixture
def chain(postgres: PostgresServer, consumer_postgres: DedicatedServer, tmp_path: Path) -> Iterator[DeliveryChain]:
    made = DeliveryChain(postgres, consumer_postgres, tmp_path)
    yield made
    made.close()


def test_consumer_database_views_follow_the_producer_round_by_round(chain: DeliveryChain) -> None:
    live, forensic = mvp_spec("YellowLive", consumer_database=True), mvp_spec("YellowForensic", consumer_database=True)
    for spec in (live, forensic):  # as the PostSync hook does after deployment
        result = chain.reconcile(spec)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok     delivery to consumer_db on pg-consumer.datasurface.svc.cluster.local:5432" in result.stdout
    snapshots: dict[int, list[tuple]] = {}
    for round_seed in (None, 7, 8, 9):  # the seed data, then three rounds of simulated changes
        if round_seed is not None:
            chain.simulate(round_seed)
        customers = chain.producer("customers", CUSTOMER_COLUMNS)
        addresses = chain.producer("addresses", ADDRESS_COLUMNS)
        assert chain.merge(live)["outcome"] == "done"
        batch = chain.merge(forensic)["batch"]
        snapshots[batch] = customers
        chain.wait_delivered(live, forensic)
        assert chain.consumer(f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer2.livedsg_customers ORDER BY 1") == (
            customers
        )
        assert chain.consumer(f"SELECT {quoted(ADDRESS_COLUMNS)} FROM consumer2.livedsg_addresses ORDER BY 1") == (
            addresses
        )
        assert chain.consumer(f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer2.forensicdsg_customers ORDER BY 1") == (
            customers
        )
    for batch, state in snapshots.items():
        as_of_batch = chain.consumer(
            f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer2.forensicdsg_customers_history "
            "WHERE ds_surf_batch_in <= %s AND (ds_surf_batch_out IS NULL OR %s < ds_surf_batch_out) ORDER BY 1",
            (batch, batch),
        )
        assert as_of_batch == state, f"customers as of batch {batch}"
        (committed,) = chain.consumer(
            f"SELECT ended_at FROM {qualified(platform_schema('YellowForensic'), 'batches')} "
            "WHERE stream = %s AND batch_id = %s",
            (forensic.stream, batch),
        )[0]
        assert (
            chain.consumer(
                f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer2.forensicdsg_customers_history_as_of(%s) ORDER BY 1",
                (committed,),
            )
            == state
        ), f"customers as of the commit of batch {batch}"
    # Consumer1 keeps its views in the merge database; the consumer database has only Consumer2's.
    assert chain.pg.execute(chain.merge_db, "SELECT count(*) FROM consumer1.livedsg_customers") == [
        (len(snapshots[max(snapshots)]),)
    ]
    assert chain.consumer("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'consumer1'") == [(0,)]


def test_the_consumer_database_reader_role_reads_views_and_nothing_else(chain: DeliveryChain) -> None:
    spec = mvp_spec("YellowForensic", consumer_database=True)
    assert chain.reconcile(spec).returncode == 0
    chain.merge(spec)
    chain.wait_delivered(spec)
    schema = platform_schema(spec.platform)
    conn = chain.consumer_pg.connect(chain.consumer_db)
    try:
        forbidden = [qualified(schema, merge_table(spec.store, "customers")), qualified(schema, "batches")]
        assert_reader_reads_views_only(conn, "consumer2", 5, forbidden)
    finally:
        conn.close()


def test_a_nullable_column_added_mid_stream_reaches_the_consumer_database(chain: DeliveryChain) -> None:
    spec = mvp_spec("YellowForensic", consumer_database=True)
    assert chain.reconcile(spec).returncode == 0
    chain.merge(spec)
    chain.wait_delivered(spec)
    chain.pg.execute(chain.source_db, "ALTER TABLE customers ADD COLUMN loyalty varchar(20)")
    chain.pg.execute(chain.source_db, "UPDATE customers SET loyalty = 'gold' WHERE id = 'C2'")
    customers = next(d for d in spec.datasets if d.name == "customers")
    wider = replace(
        customers, columns=[*customers.columns, ColumnSpec(name="loyalty", sql_type="VARCHAR(20)", nullable=True)]
    )
    spec2 = replace(spec, datasets=[wider if d.name == "customers" else d for d in spec.datasets])
    assert chain.merge(spec2)["schema_changed"] is True
    result = chain.reconcile(spec2)  # as the workflow does after a merge that changed a schema
    assert result.returncode == 0, result.stdout
    chain.wait_delivered(spec2)
    assert chain.consumer(
        "SELECT id, loyalty FROM consumer2.forensicdsg_customers WHERE id IN ('C1', 'C2') ORDER BY 1"
    ) == [("C1", None), ("C2", "gold")]
    assert chain.consumer(
        "SELECT id, loyalty, ds_surf_batch_out IS NULL FROM consumer2.forensicdsg_customers_history "
        "WHERE id = 'C2' ORDER BY ds_surf_batch_in"
    ) == [("C2", None, False), ("C2", "gold", True)]


def test_a_stopped_consumer_database_never_holds_merges_back_and_catches_up(chain: DeliveryChain) -> None:
    live = mvp_spec("YellowLive", consumer_database=True)
    assert chain.reconcile(live).returncode == 0
    chain.merge(live)
    chain.wait_delivered(live)
    chain.consumer_pg.stop()
    try:
        for round_seed in (11, 12, 13):
            chain.simulate(round_seed)
            assert chain.merge(live)["outcome"] == "done"  # merges go on while it is down
        result = chain.reconcile(live)
        assert result.returncode == 1  # reported ...
        assert "FAILED delivery to consumer_db" in result.stdout
        assert "ok     consumer1.livedsg_customers" in result.stdout  # ... and the merge database's views still done
    finally:
        chain.consumer_pg.start()
    chain.wait_delivered(live)  # by itself: the slot kept every change
    assert chain.consumer(f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer2.livedsg_customers ORDER BY 1") == (
        chain.producer("customers", CUSTOMER_COLUMNS)
    )
    assert chain.consumer(f"SELECT {quoted(ADDRESS_COLUMNS)} FROM consumer2.livedsg_addresses ORDER BY 1") == (
        chain.producer("addresses", ADDRESS_COLUMNS)
    )


def status(chain: DeliveryChain, spec: JobSpec) -> list[dict]:
    folder = chain.tmp / "specs"
    folder.mkdir(exist_ok=True)
    (folder / "stream.json").write_text(spec.to_json())
    result = run_cli(
        "status", "--spec-dir", str(folder), "--merge-url", chain.pg.url(chain.merge_db), "-f", "json", env=chain.env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["consumers"]


def test_status_reports_the_consumer_database_lag_per_workspace(chain: DeliveryChain) -> None:
    live = mvp_spec("YellowLive", consumer_database=True)
    assert chain.reconcile(live).returncode == 0
    first = chain.merge(live)["batch"]
    chain.wait_delivered(live)
    (caught_up,) = status(chain, live)
    assert caught_up["workspace"] == "Consumer2" and caught_up["reachable"] and caught_up["replication_active"]
    assert caught_up["last_batch"] == first and caught_up["lag_seconds"] == 0.0
    chain.consumer_pg.stop()
    try:
        chain.simulate(21)
        second = chain.merge(live)["batch"]
        time.sleep(1.0)
        (behind,) = status(chain, live)
        assert not behind["reachable"] and not behind["replication_active"] and behind["error"]
        assert behind["lag_bytes"] > 0
    finally:
        chain.consumer_pg.start()
    chain.wait_delivered(live)
    (again,) = status(chain, live)
    assert again["last_batch"] == second and again["lag_seconds"] == 0.0 and again["reachable"]


def test_a_disabled_subscription_shows_as_lag_and_the_next_reconcile_repairs_it(chain: DeliveryChain) -> None:
    live = mvp_spec("YellowLive", consumer_database=True)
    assert chain.reconcile(live).returncode == 0
    first = chain.merge(live)["batch"]
    chain.wait_delivered(live)
    (name,) = chain.consumer("SELECT subname FROM pg_subscription")[0]
    chain.consumer(f'ALTER SUBSCRIPTION "{name}" DISABLE')
    chain.simulate(31)
    chain.merge(live)
    time.sleep(1.0)
    (behind,) = status(chain, live)
    assert behind["reachable"] and not behind["replication_active"]
    assert behind["last_batch"] == first and behind["lag_seconds"] >= 1.0
    result = chain.reconcile(live)
    assert result.returncode == 0 and "enabled" in result.stdout
    chain.wait_delivered(live)
    assert chain.consumer(f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer2.livedsg_customers ORDER BY 1") == (
        chain.producer("customers", CUSTOMER_COLUMNS)
    )


def test_a_lost_replication_slot_is_replaced_by_a_full_copy_not_a_gap(chain: DeliveryChain) -> None:
    live = mvp_spec("YellowLive", consumer_database=True)
    assert chain.reconcile(live).returncode == 0
    chain.merge(live)
    chain.wait_delivered(live)
    (name,) = chain.consumer("SELECT subname FROM pg_subscription")[0]
    chain.consumer(f'ALTER SUBSCRIPTION "{name}" DISABLE')
    deadline = time.monotonic() + WAIT_SECONDS
    while chain.pg.execute(chain.merge_db, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (name,)) != [
        (False,)
    ]:
        assert time.monotonic() < deadline, "the walsender did not let go of the slot"
        time.sleep(0.1)
    chain.pg.execute(chain.merge_db, "SELECT pg_drop_replication_slot(%s)", (name,))  # as a restore would
    chain.simulate(41)
    chain.merge(live)  # changes the consumer database can no longer receive from the old slot
    result = chain.reconcile(live)
    assert result.returncode == 0 and "recreated (its replication slot was gone)" in result.stdout, result.stdout
    chain.wait_delivered(live)
    assert chain.consumer(f"SELECT {quoted(CUSTOMER_COLUMNS)} FROM consumer2.livedsg_customers ORDER BY 1") == (
        chain.producer("customers", CUSTOMER_COLUMNS)
    )


@pytest.mark.parametrize(("platform", "group"), [("YellowLive", "livedsg"), ("YellowForensic", "forensicdsg")])
def test_a_widened_column_reaches_both_databases_views(chain: DeliveryChain, platform: str, group: str) -> None:
    spec = mvp_spec(platform, consumer_database=True)
    assert chain.reconcile(spec).returncode == 0
    chain.merge(spec)
    chain.wait_delivered(spec)
    chain.pg.execute(chain.source_db, "ALTER TABLE customers ALTER COLUMN email TYPE varchar(200)")
    chain.pg.execute(chain.source_db, "UPDATE customers SET email = %s WHERE id = 'C3'", ("x" * 150 + "@example.com",))
    customers = next(d for d in spec.datasets if d.name == "customers")
    wider = replace(
        customers, columns=[replace(c, sql_type="VARCHAR(200)") if c.name == "email" else c for c in customers.columns]
    )
    spec2 = replace(spec, datasets=[wider if d.name == "customers" else d for d in spec.datasets])
    assert chain.merge(spec2)["schema_changed"] is True
    assert chain.reconcile(spec2).returncode == 0
    chain.wait_delivered(spec2)
    width = (
        "SELECT character_maximum_length FROM information_schema.columns "
        f"WHERE table_name = '{group}_customers' AND column_name = 'email' AND table_schema = %s"
    )
    assert chain.consumer(width, ("consumer2",)) == [(200,)]
    assert chain.consumer(f"SELECT length(email) FROM consumer2.{group}_customers WHERE id = 'C3'") == [(162,)]
    # The merge database's views (Consumer1) were widened too: the merge dropped and restored them.
    assert chain.pg.execute(chain.merge_db, width, ("consumer1",)) == [(200,)]
    assert chain.pg.execute(
        chain.merge_db, f"SELECT length(email) FROM consumer1.{group}_customers WHERE id = 'C3'"
    ) == [(162,)]
