"""Names of the data plane's objects in the merge database.

One schema per platform holds its merge, staging and bookkeeping tables, so platforms never
collide. Merge and staging tables are named after the store and dataset, shortened to fit
PostgreSQL's 63 bytes, and always carry a hash of the exact (store, dataset) pair, so no two
pairs share a table whatever their names. Every identifier is quoted where it is used.
"""

from __future__ import annotations

import re

from workflows.spec import SQL_NAME_MAX as MAX_IDENTIFIER
from workflows.spec import DatabaseSpec, name_digest


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"


def _named(prefix: str, readable: str, *identity: str) -> str:
    digest = name_digest(*identity)
    room = MAX_IDENTIFIER - len(prefix) - len(digest) - 1
    return f"{prefix}{readable[:room].rstrip('_')}_{digest}"


def platform_schema(platform: str) -> str:
    """``ds_yellowlive_<hash>``: the platform's own schema."""
    return _named("ds_", _slug(platform), "platform", platform)


def merge_table(store: str, dataset: str) -> str:
    return _named("m_", _slug(f"{store}_{dataset}"), "merge", store, dataset)


def staging_table(store: str, dataset: str) -> str:
    return _named("s_", _slug(f"{store}_{dataset}"), "staging", store, dataset)


def keys_table(store: str, dataset: str) -> str:
    return _named("k_", _slug(f"{store}_{dataset}"), "keys", store, dataset)


def quote(identifier: str) -> str:
    """Always-quoted SQL identifier (embedded quotes doubled)."""
    if "\x00" in identifier:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + identifier.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


def live_partition(store: str, dataset: str) -> str:
    """Forensic tables: the partition of current versions."""
    return _named("l_", _slug(f"{store}_{dataset}"), "live", store, dataset)


def history_partition(store: str, dataset: str) -> str:
    """Forensic tables: the partition of closed versions."""
    return _named("h_", _slug(f"{store}_{dataset}"), "history", store, dataset)


def derived(name: str, suffix: str) -> str:
    """``name`` + ``suffix``, shortened with a hash of both when longer than 63 bytes."""
    full = name + suffix
    if len(full) <= MAX_IDENTIFIER:
        return full
    digest = name_digest(name, suffix)
    return f"{name[: MAX_IDENTIFIER - len(suffix) - len(digest) - 1]}_{digest}{suffix}"


def reader_role(schema: str) -> str:
    """The role that may read a workspace's views, and nothing else."""
    return (
        derived("ds_reader_", schema)
        if len("ds_reader_" + schema) <= MAX_IDENTIFIER
        else _named("ds_reader_", _slug(schema), "reader", schema)
    )


def literal(value: str) -> str:
    """An SQL string literal (quotes doubled)."""
    if "\x00" in value:
        raise ValueError("SQL strings cannot contain NUL")
    return "'" + value.replace("'", "''") + "'"


def delivery_name(platform: str, merge: DatabaseSpec, consumer: DatabaseSpec) -> str:
    """``ds_<platform>_<hash>``: the publication, replication slot and subscription that deliver a
    platform's tables from its merge database to one consumer database (lower case, as slot names
    must be; slots are named per server, so the merge database is part of the name)."""
    identity = (platform, merge.database, consumer.host, str(consumer.port), consumer.database)
    return _named("ds_", _slug(platform), "delivery", *identity)
