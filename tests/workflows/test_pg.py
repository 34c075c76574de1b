"""The data plane's PostgreSQL access: named parameters, names no parameter can hide in, rows,
transaction blocks, and a step that never imports SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.pg import PostgresServer
from workflows.db import database_at
from workflows.pg import Database, DatabaseError, text


@pytest.fixture
def db(postgres: PostgresServer) -> Database:
    return database_at(postgres.url(postgres.create_database("pg")), "tests")


def test_named_parameters_become_psycopg2_placeholders_outside_quotes_only() -> None:
    statement = text("""SELECT :a::int, '50%: :not_a_parameter', "odd:name%", x::text FROM t WHERE y = :b_2""")
    assert statement.bound == (
        """SELECT %(a)s::int, '50%%: :not_a_parameter', "odd:name%%", x::text FROM t WHERE y = %(b_2)s"""
    )


def test_hostile_names_and_values_stay_what_they_are(db: Database) -> None:
    table = '"we%ird:col ""quoted"""'
    with db.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (k text, {table} text)"))
        conn.execute(text(f"INSERT INTO {table} VALUES (:k, :v)"), {"k": ":k %s %(v)s", "v": "'; DROP TABLE x; --"})
        rows = conn.execute(text(f"SELECT k, {table} FROM {table} WHERE k LIKE :p"), {"p": ":k%"}).all()
        assert rows == [(":k %s %(v)s", "'; DROP TABLE x; --")]
        # without parameters the text goes as written: a % in a literal is a %
        assert conn.execute(text(f"SELECT count(*) FROM {table} WHERE k LIKE ':k %'")).scalar_one() == 1


def test_rows_are_named_tuples_even_with_repeated_column_names(db: Database) -> None:
    with db.connect() as conn:
        row = conn.execute(text('SELECT 1 AS a, 2 AS b, 3 AS b, 4 AS "select"')).one()
        assert row.a == 1 and row.b == 2 and tuple(row) == (1, 2, 3, 4)
        assert conn.execute(text("SELECT 1 WHERE false")).first() is None
        with pytest.raises(DatabaseError, match="expected one row, got 0"):
            conn.execute(text("SELECT 1 WHERE false")).one()


def test_a_block_commits_or_rolls_back_whole(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE t (v int)"))

    def insert_then_fail() -> None:
        with db.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("after the insert")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    with db.connect() as conn:
        with conn.begin():
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
            conn.execute(text("INSERT INTO t VALUES (2)"))
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_every_session_has_the_settings_steps_rely_on(db: Database) -> None:
    with db.connect() as conn:
        assert conn.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
        assert conn.execute(text("SHOW application_name")).scalar_one() == "tests"


def test_a_data_plane_step_never_imports_sqlalchemy() -> None:
    probe = (
        "import sys, handler.cli, workflows.steps, workflows.snapshot_merge, workflows.views, workflows.status;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
