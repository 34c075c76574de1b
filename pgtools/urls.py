"""Database URLs: the libpq form people write, as SQLAlchemy URLs for the psycopg2 driver.

``postgresql://user:password@host:port/db`` and ``postgresql://user@/db?host=/socket/dir`` both
work. SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3; this project installs psycopg2,
so every engine is made from :func:`psycopg2_url`.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DRIVER = "postgresql+psycopg2"


class DatabaseURLError(ValueError):
    """A URL that does not name a PostgreSQL database."""


def psycopg2_url(url: str | URL) -> URL:
    """``url`` (libpq form, or an SQLAlchemy URL) with the psycopg2 driver; refuses non-PostgreSQL URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"not a database URL: {_masked(str(url))!r}") from None
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseURLError(f"only PostgreSQL is supported, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername=DRIVER)


def libpq_url(url: str | URL) -> str:
    """The URL in libpq form (``postgresql://...``, password kept): what ``psql`` and ``--*-url`` options take."""
    return psycopg2_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str | URL, database: str) -> str:
    """The same server and user, another database, in libpq form."""
    return libpq_url(psycopg2_url(url).set(database=database))


def ensure_database(url: str | URL) -> bool:
    """Create the URL's database when it does not exist (connecting to ``postgres``). True if created."""
    target = psycopg2_url(url)
    if not target.database:
        raise DatabaseURLError("the URL names no database")
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}).first():
                return False
            quoted = '"' + target.database.replace('"', '""') + '"'
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        engine.dispose()


def _masked(url: str) -> str:
    """A URL fit for an error message: any password replaced."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable>"
