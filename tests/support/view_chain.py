"""The chain consumers' views sit at the end of: a producer database made by ``producer init``, a
merge database, and the ``datasurface`` jobs run as Argo runs them (separate processes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.pg import PostgresServer
from workflows.spec import JobSpec
from workflows.sqlnames import reader_role


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=300, env=env)


class ViewChain:
    def __init__(self, pg: PostgresServer, tmp: Path) -> None:
        self.pg, self.tmp = pg, tmp
        self.env: dict[str, str] = {}  # for the reconcile job
        self.source_db = pg.create_database("customer_db")
        self.merge_db = pg.create_database("datasurface_merge")
        assert cli("producer", "init", "--db", pg.url(self.source_db)).returncode == 0

    def spec_path(self, spec: JobSpec) -> str:
        path = self.tmp / f"{spec.platform}.json"
        path.write_text(spec.to_json())
        return str(path)

    def merge(self, spec: JobSpec) -> dict:
        result = cli(
            "job",
            "snapshot-merge",
            "--spec",
            self.spec_path(spec),
            "--source-url",
            self.pg.url(self.source_db),
            "--merge-url",
            self.pg.url(self.merge_db),
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def reconcile(self, spec: JobSpec) -> subprocess.CompletedProcess[str]:
        args = ("job", "reconcile-views", "--spec", self.spec_path(spec), "--merge-url", self.pg.url(self.merge_db))
        return cli(*args, env=self.env)

    def simulate(self, seed: int, changes: int = 50) -> None:
        """``changes`` simulated business changes in the producer database, at once."""
        args = ("--max-changes", str(changes), "--seed", str(seed), "--min-interval", "0", "--max-interval", "0")
        result = cli("simulate", "--db", self.pg.url(self.source_db), *args)
        assert result.returncode == 0, result.stderr

    def producer(self, table: str, columns: list[str]) -> list[tuple]:
        return self.pg.execute(
            self.source_db, f"SELECT {', '.join(c.lower() for c in columns)} FROM {table} ORDER BY 1"
        )

    def consumer(self, sql: str, params: object = None) -> list[tuple]:
        """What consumers read (here: the merge database)."""
        return self.pg.execute(self.merge_db, sql, params)


def assert_reader_reads_views_only(conn: Any, schema: str, rows: int, forbidden: list[str]) -> None:
    """As the workspace's reader role on ``conn`` (a psycopg2 connection): its forensic customers
    views and as-of function give ``rows`` rows, and every table of ``forbidden`` is refused."""
    with conn.cursor() as cursor:
        cursor.execute(f'SET ROLE "{reader_role(schema)}"')
        cursor.execute(f"SELECT count(*) FROM {schema}.forensicdsg_customers")
        assert cursor.fetchone() == (rows,)
        cursor.execute(f"SELECT count(*) FROM {schema}.forensicdsg_customers_history_as_of(now())")
        assert cursor.fetchone() == (rows,)
        for table in forbidden:
            cursor.execute("SAVEPOINT probe")
            with pytest.raises(Exception, match="permission denied"):
                cursor.execute(f"SELECT * FROM {table}")
            cursor.execute("ROLLBACK TO SAVEPOINT probe")
