"""Database connections of data-plane jobs: addresses, session settings, error classes.

Jobs connect with psycopg2 (workflows/pg.py). A connection comes from the job spec (host, port,
database; user and password from the environment variables named after the credential, as
Kubernetes secrets provide them) or from an explicit libpq URL or connection string
(``postgresql://user@/db?host=/socket/dir`` works), given on the command line or in
``DATASURFACE_SOURCE_URL`` / ``DATASURFACE_MERGE_URL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import psycopg2
import psycopg2.errors
from psycopg2.extensions import make_dsn, parse_dsn

from workflows.pg import Database
from workflows.spec import DatabaseSpec, MergeSettings, Role, consumer_credential_env, credential_env

SOURCE_URL_ENV = "DATASURFACE_SOURCE_URL"
MERGE_URL_ENV = "DATASURFACE_MERGE_URL"
CONSUMER_URLS_ENV = "DATASURFACE_CONSUMER_URLS"

#: Session settings that make text transfer (COPY) between the databases independent of their defaults.
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "client_encoding": "UTF8",
}


def merge_session_settings(settings: MergeSettings) -> dict[str, str]:
    """What the snapshot-merge job's merge-database sessions run with (docs/snapshot-merge.md)."""
    return {
        "work_mem": settings.work_mem,
        "maintenance_work_mem": settings.maintenance_work_mem,
        "temp_buffers": settings.temp_buffers,
        "random_page_cost": str(settings.random_page_cost),
        # The classification join reads every staged and current row: worth the database's
        # parallel workers, which the planner's default costs often decline for it.
        "parallel_setup_cost": "0",
        "parallel_tuple_cost": "0",
    }


class ConfigurationError(Exception):
    """The job cannot connect as configured (missing credentials, bad URL): permanent."""


_SCHEMES = ("postgresql://", "postgres://")


def job_url(url: str) -> str:
    """A libpq URL (or ``key=value`` connection string) given to a job, checked; a bad one is a
    permanent configuration error. SQLAlchemy's ``postgresql+psycopg2://`` spelling is accepted."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith("postgresql+"):
        url = f"postgresql://{rest}"
    elif sep and f"{scheme}://" not in _SCHEMES:
        raise ConfigurationError(f"only PostgreSQL is supported, not {scheme[:40]!r}")
    try:
        parse_dsn(url)
    except psycopg2.ProgrammingError:
        raise ConfigurationError(f"not a database URL: {_masked(url)!r}") from None
    return url


def _masked(url: str) -> str:
    """A URL fit for an error message: no password."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        credentials, _, host = rest.rpartition("@")
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url if sep else "<connection string>"


def spec_url(db: DatabaseSpec, role: Role | None, environ: Mapping[str, str] | None = None) -> str:
    """The database's address with its credential from the environment: the role's variables
    (``credential_env``), or for ``role=None`` (a consumer database) its secret's own."""
    environ = os.environ if environ is None else environ
    user_var, password_var = credential_env(role) if role else consumer_credential_env(db.credential)
    user = environ.get(user_var)
    if not user:
        raise ConfigurationError(
            f"no credentials for {db.database} on {db.host}: set {user_var} and {password_var} "
            f"(from the Kubernetes secret {db.credential!r}) or pass a URL"
        )
    # make_dsn leaves out what is None
    return make_dsn(host=db.host, port=db.port, dbname=db.database, user=user, password=environ.get(password_var))


def job_database(
    db: DatabaseSpec, role: Role, override: str | None, application: str, settings: Mapping[str, str] | None = None
) -> Database:
    """The spec's database, or the override URL's (argument, then environment); ``settings``:
    server settings for its sessions (name -> value) besides ``SESSION_SETTINGS``."""
    url_text = override or os.environ.get(SOURCE_URL_ENV if role == "source" else MERGE_URL_ENV)
    return database_at(url_text or spec_url(db, role), application, settings=settings)


def consumer_database(
    db: DatabaseSpec, application: str, environ: Mapping[str, str] | None = None, connect_timeout: int = 10
) -> Database:
    """A workspace's consumer database: a URL from ``DATASURFACE_CONSUMER_URLS`` (a JSON object
    keyed by ``host:port/database`` or by the database name, for local runs), else the spec's
    address with the credential from the environment (``consumer_credential_env``)."""
    environ = os.environ if environ is None else environ
    urls_text = environ.get(CONSUMER_URLS_ENV)
    if urls_text:
        try:
            urls = json.loads(urls_text)
        except ValueError:
            raise ConfigurationError(f"{CONSUMER_URLS_ENV} is not a JSON object of database -> URL") from None
        if not isinstance(urls, dict):
            raise ConfigurationError(f"{CONSUMER_URLS_ENV} is not a JSON object of database -> URL")
        url = urls.get(f"{db.host}:{db.port}/{db.database}") or urls.get(db.database)
        if isinstance(url, str):
            return database_at(url, application, connect_timeout)
    return database_at(spec_url(db, None, environ), application, connect_timeout)


def database_at(
    url: str, application: str, connect_timeout: int = 10, settings: Mapping[str, str] | None = None
) -> Database:
    """The database at ``url`` (a libpq URL or connection string), whose sessions have the
    settings every step relies on (``SESSION_SETTINGS``) and ``settings``."""
    dsn = make_dsn(job_url(url), application_name=application, connect_timeout=connect_timeout)
    return Database(dsn, {**SESSION_SETTINGS, **(settings or {})})


_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",
    "57P02",
    "57P03",  # admin shutdown, crash shutdown, cannot connect now
    "53300",  # too_many_connections
    "08000",
    "08003",
    "08006",
    "08001",
    "08004",  # connection exceptions
}


def error_summary(exc: BaseException) -> str:
    """The first line of a database error's own message (the driver's, without SQLAlchemy's wrapping)."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether retrying later may succeed: lost connections, serialization failures, shutdowns."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            current = orig
            continue
        if isinstance(current, psycopg2.Error):
            code = current.pgcode
            if code in _TRANSIENT_SQLSTATES:
                return True
            # no SQLSTATE: the connection itself failed (refused, reset, closed)
            return code is None and isinstance(current, (psycopg2.OperationalError, psycopg2.InterfaceError))
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
    return False
