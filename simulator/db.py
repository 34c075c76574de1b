"""Connections to the producer database (SQLAlchemy over psycopg2)."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url


def producer_url(url: str) -> URL:
    """A libpq URL (``postgresql://user@/db?host=/socket``) for psycopg2; SQLAlchemy 2.1 would pick psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the producer database must be PostgreSQL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+psycopg2")


def producer_engine(url: str, **kwargs: object) -> Engine:
    return create_engine(producer_url(url), connect_args={"application_name": "datasurface-simulator", "connect_timeout": 5}, **kwargs)
