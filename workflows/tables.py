"""Tables of a platform in the merge database: bookkeeping, and per dataset merge + staging.

Merge tables hold the model's columns plus DataSurface's own (prefix ``ds_surf_``, which models
may not use): the batch that wrote the row, and for forensic tables the batch that closed the
version. Rows are identified by the model's key columns themselves (NOT NULL by lint), not by a
hash of them, so no two keys can ever be confused. Forensic tables are partitioned on ``ds_surf_batch_out``:
current versions in one partition, closed versions in another, so a merge touches only current
versions and its cost follows the change, not the history.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import msgspec

from workflows.pg import Connection, text
from workflows.spec import DatasetSpec, JobSpec
from workflows.sqlnames import (
    derived,
    history_partition,
    keys_table,
    live_partition,
    merge_table,
    platform_schema,
    qualified,
    quote,
    staging_table,
)

LIVE = 9223372036854775807  # ds_surf_batch_out of a current version
BATCH_IN, BATCH_OUT = "ds_surf_batch_in", "ds_surf_batch_out"


class SchemaEvolutionError(Exception):
    """The merge tables cannot follow the spec (a column removed or changed incompatibly): permanent."""


@dataclass(frozen=True)
class DatasetTables:
    schema: str
    merge: str  # qualified
    staging: str  # qualified
    forensic: bool
    merge_name: str  # unqualified
    current: str  # qualified: where current rows live (the merge table; a forensic table's live partition)
    keys: str  # qualified: keys of unchanged rows, when change capture must find deletes (workflows/change_capture.py)

    @classmethod
    def of(cls, spec: JobSpec, dataset: DatasetSpec) -> DatasetTables:
        schema = platform_schema(spec.platform)
        merge = merge_table(spec.store, dataset.name)
        forensic = spec.strategy == "forensic"
        return cls(
            schema,
            qualified(schema, merge),
            qualified(schema, staging_table(spec.store, dataset.name)),
            forensic,
            merge,
            qualified(schema, live_partition(spec.store, dataset.name)) if forensic else qualified(schema, merge),
            qualified(schema, keys_table(spec.store, dataset.name)),
        )


BOOKKEEPING_TABLES = (
    "batch_counter",
    "batches",
    "batch_metrics",
    "dataset_schemas",
    "runs",
    "run_counts",
    "stream_totals",
    "dataset_totals",
    "source_watermarks",
)


def bookkeeping(schema: str) -> dict[str, str]:
    return {name: qualified(schema, name) for name in BOOKKEEPING_TABLES}


def ddl_lock(conn: Connection, schema: str) -> None:
    """Serialize DDL on a platform's schema (jobs of several streams, view reconciles) until commit."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"datasurface-ddl:{schema}"})


def ensure_platform_schema(conn: Connection, schema: str) -> None:
    """Create the platform's schema and bookkeeping tables."""
    ddl_lock(conn, schema)
    t = bookkeeping(schema)
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}"))
    _create_batches(conn, t["batches"], mirror=False)
    _create_dataset_schemas(conn, t["dataset_schemas"])
    conn.execute(
        text(f"CREATE TABLE IF NOT EXISTS {t['batch_counter']} (stream text PRIMARY KEY, last_batch bigint NOT NULL)")
    )
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {t['batch_metrics']} (stream text NOT NULL, batch_id bigint NOT NULL, dataset text NOT NULL, "
            "inserted bigint NOT NULL, updated bigint NOT NULL, deleted bigint NOT NULL, total bigint NOT NULL, "
            "PRIMARY KEY (stream, batch_id, dataset))"
        )
    )
    # What operators watch (workflows/status.py): each run's outcome, and counters kept at commit
    # so that a scrape reads a few rows, not every batch ever merged.
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {t['runs']} (stream text NOT NULL, run_id bigserial, batch_id bigint, "
            "outcome text NOT NULL, transient boolean NOT NULL DEFAULT false, started_at timestamptz NOT NULL, "
            "ended_at timestamptz NOT NULL DEFAULT now(), error text, PRIMARY KEY (stream, run_id))"
        )
    )
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {t['run_counts']} (stream text NOT NULL, outcome text NOT NULL, "
            "runs bigint NOT NULL, PRIMARY KEY (stream, outcome))"
        )
    )
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {t['stream_totals']} (stream text PRIMARY KEY, batches bigint NOT NULL, "
            "batch_seconds double precision NOT NULL)"
        )
    )
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {t['dataset_totals']} (stream text NOT NULL, dataset text NOT NULL, "
            "inserted bigint NOT NULL, updated bigint NOT NULL, deleted bigint NOT NULL, PRIMARY KEY (stream, dataset))"
        )
    )
    # Where each dataset's next batch may read changes from (workflows/change_capture.py).
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {t['source_watermarks']} (stream text NOT NULL, dataset text NOT NULL, "
            "identity text NOT NULL, snapshot_xmin bigint NOT NULL, PRIMARY KEY (stream, dataset))"
        )
    )


def _create_batches(conn: Connection, table: str, mirror: bool) -> None:
    # A consumer database's copy holds the published columns only (MIRRORED_BATCH_COLUMNS).
    extra = "" if mirror else ", state jsonb NOT NULL DEFAULT '{}'"
    started = "" if mirror else "started_at timestamptz NOT NULL DEFAULT now(), "
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {table} (stream text NOT NULL, batch_id bigint NOT NULL, status text NOT NULL, "
            f"{started}ended_at timestamptz{extra}, PRIMARY KEY (stream, batch_id))"
        )
    )


def _create_dataset_schemas(conn: Connection, table: str) -> None:
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {table} (stream text NOT NULL, dataset text NOT NULL, "
            "schema_hash text NOT NULL, columns jsonb NOT NULL, PRIMARY KEY (stream, dataset))"
        )
    )


#: The columns of ``batches`` a consumer database receives: what history views' milestones need.
MIRRORED_BATCH_COLUMNS = ("stream", "batch_id", "status", "ended_at")


def ensure_mirror_schema(conn: Connection, schema: str) -> None:
    """A consumer database's copy of the platform's schema: ``batches`` (published columns only)
    and ``dataset_schemas`` (what its copies of merge tables look like, kept there, not replicated)."""
    ddl_lock(conn, schema)
    t = bookkeeping(schema)
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}"))
    _create_batches(conn, t["batches"], mirror=True)
    _create_dataset_schemas(conn, t["dataset_schemas"])


def ensure_replica_identity(conn: Connection, tables: DatasetTables, dataset: DatasetSpec) -> None:
    """Give a forensic table a replica identity, so that it can be published (and its copy be
    updated by logical replication): a unique index over (keys, ds_surf_batch_out), on the root
    and each partition. Unique because a batch closes at most one version of a key; history rows
    are never updated. Live tables have their primary key."""
    if not tables.forensic:
        return
    index = derived(tables.merge_name, "_rid")
    conn.execute(
        text(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote(index)} ON {tables.merge} ({key_list(dataset)}, {quote(BATCH_OUT)})"
        )
    )
    conn.execute(text(f"ALTER TABLE {tables.merge} REPLICA IDENTITY USING INDEX {quote(index)}"))
    children = conn.execute(
        text(
            "SELECT n.nspname, t.relname AS table_name, i.relname AS index_name FROM pg_inherits h "
            "JOIN pg_class i ON i.oid = h.inhrelid JOIN pg_index x ON x.indexrelid = i.oid "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE h.inhparent = CAST(:index AS regclass)"
        ),
        {"index": qualified(tables.schema, index)},
    ).all()
    for row in children:
        conn.execute(
            text(
                f"ALTER TABLE {qualified(row.nspname, row.table_name)} REPLICA IDENTITY USING INDEX {quote(row.index_name)}"
            )
        )


def schema_hash(dataset: DatasetSpec) -> str:
    body = [[c.name, c.sql_type, c.nullable, c.key_position] for c in dataset.columns]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def _column_ddl(dataset: DatasetSpec) -> list[str]:
    return [f"{quote(c.name)} {c.sql_type}{'' if c.nullable else ' NOT NULL'}" for c in dataset.columns]


#: Storage options of scratch tables (staging, and the unchanged keys of change capture).
SCRATCH_OPTIONS = "(autovacuum_enabled = false)"


def unlogged_staging(conn: Connection, staging: list[str]) -> None:
    """Empty staging tables and make them (those an older version created) unlogged.

    Staging is scratch: it writes no WAL, which halves the WAL of a first load and leaves a batch
    without changes writing almost none. A server crash empties unlogged tables; the job sees
    that (``staging_lost``) and ingests again. Converting an empty table costs nothing, and
    converting an unlogged one is a no-op.

    Autovacuum leaves scratch tables alone (``SCRATCH_OPTIONS``): it has nothing to reclaim in
    them, and its analyze of a million rows copied in one batch held a lock that the next
    batch's TRUNCATE or DROP then waited for (0.5 s, seen in a statement trace).
    """
    conn.execute(text(f"TRUNCATE {', '.join(staging)}"))
    for table in staging:
        conn.execute(text(f"ALTER TABLE {table} SET UNLOGGED, SET {SCRATCH_OPTIONS}"))


def analyze_sampled(conn: Connection, table: str, statistics_target: int) -> None:
    """``ANALYZE`` from a sample of 300 x ``statistics_target`` rows, in the caller's transaction.

    The planner needs only some of what ``ANALYZE`` gathers about a scratch table (its rows, and
    whether its keys repeat or how its rows split per operation), which a small sample tells at a
    fraction of the default's cost."""
    conn.execute(text(f"SET LOCAL default_statistics_target = {int(statistics_target)}"))
    conn.execute(text(f"ANALYZE {table}"))
    conn.execute(text("SET LOCAL default_statistics_target TO DEFAULT"))


def staging_lost(conn: Connection, rows: dict[str, int]) -> bool:
    """Whether a scratch table that ingestion filled (``rows``: table -> rows copied into it) is
    empty now: the server crashed since, and crash recovery empties unlogged tables."""
    return any(
        expected > 0 and conn.execute(text(f"SELECT NOT EXISTS (SELECT FROM {table})")).scalar_one()
        for table, expected in rows.items()
    )


def key_list(dataset: DatasetSpec) -> str:
    return ", ".join(quote(c.name) for c in dataset.key_columns)


def keys_match(keys: list[str], left: str, right: str) -> str:
    """SQL joining two row aliases on the (quoted) key columns."""
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in keys)


def _create(conn: Connection, spec: JobSpec, dataset: DatasetSpec, tables: DatasetTables, staging: bool) -> None:
    columns = ", ".join(_column_ddl(dataset))
    keys = key_list(dataset)
    if staging:
        # scratch: see ``unlogged_staging``
        conn.execute(text(f"CREATE UNLOGGED TABLE {tables.staging} ({columns}) WITH {SCRATCH_OPTIONS}"))
    if not tables.forensic:
        conn.execute(
            text(f"CREATE TABLE {tables.merge} ({columns}, {quote(BATCH_IN)} bigint NOT NULL, PRIMARY KEY ({keys}))")
        )
        return
    conn.execute(
        text(
            f"CREATE TABLE {tables.merge} ({columns}, {quote(BATCH_IN)} bigint NOT NULL, "
            f"{quote(BATCH_OUT)} bigint NOT NULL DEFAULT {LIVE}) PARTITION BY LIST ({quote(BATCH_OUT)})"
        )
    )
    live = qualified(tables.schema, live_partition(spec.store, dataset.name))
    history = qualified(tables.schema, history_partition(spec.store, dataset.name))
    conn.execute(text(f"CREATE TABLE {live} PARTITION OF {tables.merge} FOR VALUES IN ({LIVE})"))
    conn.execute(text(f"CREATE TABLE {history} PARTITION OF {tables.merge} DEFAULT"))
    conn.execute(text(f"CREATE UNIQUE INDEX ON {live} ({keys})"))
    conn.execute(text(f"CREATE INDEX ON {history} ({keys}, {quote(BATCH_IN)})"))
    conn.execute(text(f"CREATE INDEX ON {history} ({quote(BATCH_IN)}, {quote(BATCH_OUT)})"))


def _evolve(
    conn: Connection, dataset: DatasetSpec, tables: DatasetTables, stored: list[dict[str, Any]], staging: bool
) -> None:
    """Apply what validation allows: new nullable columns, widened types."""
    before = {c["name"]: c for c in stored}
    wanted = {c.name for c in dataset.columns}
    removed = sorted(set(before) - wanted)
    if removed:
        raise SchemaEvolutionError(
            f"dataset {dataset.name}: columns {removed} are gone from the spec; columns are never removed"
        )
    for column in dataset.columns:
        old = before.get(column.name)
        for table in (tables.merge, tables.staging) if staging else (tables.merge,):
            if old is None:
                if not column.nullable or column.key_position is not None:
                    raise SchemaEvolutionError(
                        f"dataset {dataset.name}: new column {column.name} must be nullable and not a key"
                    )
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {quote(column.name)} {column.sql_type}"))
            elif old["sql_type"] != column.sql_type:
                _drop_dependent_views(conn, table)
                using = widened_value(quote(column.name), old["sql_type"], column.sql_type)
                conn.execute(
                    text(f"ALTER TABLE {table} ALTER COLUMN {quote(column.name)} TYPE {column.sql_type} USING {using}")
                )
            elif old["nullable"] != column.nullable or old["key_position"] != column.key_position:
                raise SchemaEvolutionError(
                    f"dataset {dataset.name}: column {column.name} changed nullability or key; that is never allowed"
                )


def widened_value(column: str, old_type: str, new_type: str) -> str:
    """How a widening converts an existing value: to exactly what the job will next read from a
    producer whose column still has the old type, so that no unchanged row looks updated.

    Ingestion reads values through their text form, so a value becomes its text read as the new
    type. A plain cast is the same for every widening but two: ``CHAR(n)`` to text drops the
    padding that its text form keeps ('ab' against 'ab  '), and ``REAL`` to ``DOUBLE PRECISION``
    widens the binary value (0.10000000149011612) where its text is the shortest exact decimal
    (0.1; sessions pin ``extra_float_digits``, workflows/db.py)."""
    padded = re.fullmatch(r"CHAR\(([0-9]+)\)", old_type)
    if padded:
        return f"CAST(rpad(CAST({column} AS text), {int(padded.group(1))}) AS {new_type})"
    if old_type == "REAL":
        return f"CAST(CAST({column} AS text) AS {new_type})"
    return f"CAST({column} AS {new_type})"


def _drop_dependent_views(conn: Connection, table: str) -> None:
    """PostgreSQL cannot change the type of a column a view reads: drop the workspace views over
    ``table`` (and the as-of functions returning their rows) so that a widening can go ahead.
    Callers bring them back (``workflows.views.restore_views`` in the same transaction, or the
    reconcile step). A consumer's own object depending on them stops the drop, visibly: never CASCADE."""
    views = conn.execute(
        text(
            "SELECT DISTINCT n.nspname AS schema, v.relname AS name, v.reltype FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class "
            "JOIN pg_namespace n ON n.oid = v.relnamespace "
            "WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = CAST(:t AS regclass) AND v.relkind = 'v'"
        ),
        {"t": table},
    ).all()
    for view in views:
        for (function,) in conn.execute(
            text("SELECT CAST(oid AS regprocedure)::text FROM pg_proc WHERE prorettype = :t"), {"t": view.reltype}
        ).all():
            conn.execute(text(f"DROP FUNCTION {function}"))
        conn.execute(text(f"DROP VIEW {qualified(view.schema, view.name)}"))
        dropped_views(conn).add((view.schema, view.name))


def dropped_views(conn: Connection) -> set[tuple[str, str]]:
    """The views (schema, name) this connection dropped for a widening, to restore."""
    views: set[tuple[str, str]] = conn.info.setdefault("datasurface_dropped_views", set())
    return views


def ensure_dataset_tables(conn: Connection, spec: JobSpec, dataset: DatasetSpec, *, staging: bool = True) -> bool:
    """Create or evolve the dataset's tables to match the spec. True when anything changed.

    ``staging=False``: the merge table only, as a consumer database's copy of it needs.
    """
    tables = DatasetTables.of(spec, dataset)
    ddl_lock(conn, tables.schema)
    t = bookkeeping(tables.schema)
    row = conn.execute(
        text(f"SELECT schema_hash, columns FROM {t['dataset_schemas']} WHERE stream = :s AND dataset = :d"),
        {"s": spec.stream, "d": dataset.name},
    ).first()
    new_hash = schema_hash(dataset)
    if row is not None and row.schema_hash == new_hash:
        return False
    if row is None:
        _create(conn, spec, dataset, tables, staging)
    else:
        _evolve(conn, dataset, tables, row.columns, staging)
    columns = json.dumps([msgspec.structs.asdict(c) for c in dataset.columns])
    conn.execute(
        text(
            f"INSERT INTO {t['dataset_schemas']} (stream, dataset, schema_hash, columns) VALUES (:s, :d, :h, CAST(:c AS jsonb)) "
            "ON CONFLICT (stream, dataset) DO UPDATE SET schema_hash = EXCLUDED.schema_hash, columns = EXCLUDED.columns"
        ),
        {"s": spec.stream, "d": dataset.name, "h": new_hash, "c": columns},
    )
    return True
