"""The data plane's PostgreSQL access: psycopg2 directly, with named parameters and transaction blocks.

A data-plane step is a short process run once per batch, and SQLAlchemy cost 0.23 s of each
(imports 0.18-0.20 s, its dialect 0.035 s; docs/snapshot-merge.md). The steps only ever send
SQL text, so this is what they use from a database library: a ``Database`` opens connections
with the session settings every step relies on; a ``Connection`` runs statements and
transaction blocks; ``text`` marks a statement with ``:name`` parameters (SQLAlchemy's
spelling, which the statements already use), turned into psycopg2's ``%(name)s`` outside
quoted identifiers and string literals the first time the statement runs with parameters (a
statement without them goes as written). Rows come back as named tuples.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

import psycopg2
import psycopg2.extensions

#: What a failed statement or connection raises.
DatabaseError = psycopg2.Error


class Statement(NamedTuple):
    """SQL with ``:name`` parameters."""

    sql: str

    @property
    def bound(self) -> str:
        """The statement in psycopg2's form, made when a statement is first run with parameters."""
        return _bind(self.sql)


def text(sql: str) -> Statement:
    """``sql`` with ``:name`` parameters (``::`` is a cast, and nothing inside quotes is a parameter)."""
    return Statement(sql)


# A quoted identifier or string literal (to the end when unterminated), a cast, a parameter, a %.
_TOKENS = re.compile(r"""('(?:[^']|'')*'?|"(?:[^"]|"")*"?)|(::)|:([A-Za-z_]\w*)|(%)""")


def _token(match: re.Match[str]) -> str:
    quoted, cast, name, _percent = match.groups()
    if quoted is not None:
        return quoted.replace("%", "%%")
    if cast is not None:
        return cast
    return f"%({name})s" if name is not None else "%%"


@lru_cache(maxsize=1024)
def _bind(sql: str) -> str:
    """``:name`` -> ``%(name)s`` outside quotes; every ``%`` doubled, as psycopg2's formatting needs."""
    return _TOKENS.sub(_token, sql)


@lru_cache(maxsize=1024)
def _row_type(columns: tuple[str, ...]) -> Any:
    """A named tuple of a statement's columns (a repeated or unusable name becomes ``_<position>``)."""
    return namedtuple("Row", columns, rename=True)


class Result:
    """A statement's rows (fetched at once) and row count."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise DatabaseError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


class Connection:
    """One connection of a ``Database``. Statements run in a transaction that a ``begin()`` block
    (or ``commit()``) ends, as in psycopg2; closing it rolls back what is not committed."""

    def __init__(self, database: Database, raw: psycopg2.extensions.connection) -> None:
        self.database, self.raw = database, raw
        self.info: dict[str, Any] = {}  # what callers keep for the life of this connection

    def execute(self, statement: Statement, parameters: Mapping[str, Any] | Sequence[Any] | None = None) -> Result:
        cursor: Any
        with self.raw.cursor() as cursor:
            if parameters is None:
                cursor.execute(statement.sql)
            else:
                cursor.execute(statement.bound, parameters)
            if cursor.description is None:
                return Result([], cursor.rowcount)
            row = _row_type(tuple(column.name for column in cursor.description))
            return Result([row._make(values) for values in cursor.fetchall()], cursor.rowcount)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        if not self.raw.closed:
            self.raw.rollback()

    def isolation(self, level: str) -> Connection:
        """The isolation level of this connection's next transactions (``AUTOCOMMIT``: none)."""
        if level == "AUTOCOMMIT":
            self.raw.autocommit = True
        else:
            self.raw.set_session(isolation_level=level)
        return self

    def close(self) -> None:
        if not self.raw.closed:
            self.raw.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Database:
    """Where connections go: a libpq connection string, and the settings every session gets,
    set in one round trip when the connection opens."""

    def __init__(self, dsn: str, settings: Mapping[str, str] | None = None) -> None:
        self.dsn = dsn
        self.settings = dict(settings or {})

    def connect(self) -> Connection:
        raw = psycopg2.connect(self.dsn)
        if self.settings:
            pairs = list(self.settings.items())
            with raw.cursor() as cursor:
                cursor.execute(
                    "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in pairs),
                    [item for pair in pairs for item in pair],
                )
            raw.commit()
        return Connection(self, raw)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A new connection with a transaction, committed (or rolled back) and closed at the end."""
        with self.connect() as conn, conn.begin():
            yield conn
