"""Database URLs as people write them, for the psycopg2 driver; creating a database."""

from __future__ import annotations

import pytest

from pgtools.urls import DatabaseURLError, ensure_database, libpq_url, psycopg2_url, with_database
from tests.support.pg import PostgresServer


def test_libpq_urls_get_the_psycopg2_driver() -> None:
    url = psycopg2_url("postgresql://alice:pw@db.example.com:5433/merge")
    assert (url.drivername, url.host, url.port, url.database, url.password) == (
        "postgresql+psycopg2",
        "db.example.com",
        5433,
        "merge",
        "pw",
    )
    socket = psycopg2_url("postgresql://postgres:@/postgres?host=/tmp/pg")
    assert socket.query["host"] == "/tmp/pg"


def test_another_database_on_the_same_server_keeps_user_password_and_socket() -> None:
    other = with_database("postgresql://postgres:pw@/postgres?host=/tmp/pg", "customer_db")
    assert other.startswith("postgresql://postgres:pw@/customer_db?host=")  # libpq form, percent-encoded
    parsed = psycopg2_url(other)
    assert (parsed.username, parsed.password, parsed.database, parsed.query["host"]) == (
        "postgres",
        "pw",
        "customer_db",
        "/tmp/pg",
    )
    assert libpq_url("postgresql+psycopg2://u@h/d") == "postgresql://u@h/d"


@pytest.mark.parametrize("bad", ["mysql://u@h/d", "not a url", "sqlite:///x.db"])
def test_other_databases_and_garbage_are_refused_without_echoing_a_password(bad: str) -> None:
    with pytest.raises(DatabaseURLError):
        psycopg2_url(bad)
    with pytest.raises(DatabaseURLError) as caught:
        psycopg2_url("mysql://u:hunter2@h/d")
    assert "hunter2" not in str(caught.value)


def test_ensure_database_creates_once(postgres: PostgresServer) -> None:
    target = with_database(postgres.url("postgres"), "pgtools_created_db")
    postgres.execute("postgres", 'DROP DATABASE IF EXISTS "pgtools_created_db"')
    assert ensure_database(target) is True
    assert ensure_database(target) is False
    assert postgres.execute("pgtools_created_db", "SELECT current_database()") == [("pgtools_created_db",)]
