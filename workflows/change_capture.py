"""Change capture: which of a producer's rows a batch must read, from their transaction ids.

A batch reads the producer in one snapshot S. After batch n merged snapshot S(n), a row
version visible in S(n+1) whose inserting transaction id (``xmin``) is older than the oldest
transaction still running at S(n) (the snapshot's xmin) was committed before S(n) and is still
live, so it was in S(n) unchanged: the merge table holds it already. Every other row version
(inserted or updated since, or by a transaction that was running at S(n), including its
subtransactions) is a *candidate*, staged and compared exactly as a full batch compares
everything. Only deletes leave no row: they are counted (the merge table's rows minus the
candidates' keys minus the unchanged rows), and when there are any, the unchanged rows' keys
are copied so that the deleted keys are exactly the current keys found in neither.

Freezing keeps a row's raw ``xmin`` (PostgreSQL 9.4 and later), ``age()`` compares it modulo
2^32 against the same reference as the watermark, and a row older than 2^31 transactions
looks new: a false candidate costs a comparison, never a missed change.

The watermark is trusted only while nothing else could have changed rows without new
transaction ids, which the batch's *identity* of the table pins: the server
(``system_identifier``, and the timeline, which a point-in-time recovery or a failover
changes), the database and table (their oids: a dropped and re-created or restored table is
another table), a plain table without inheritance children (attaching a partition or a child
brings in old rows), a unique index on the key (so that candidate and unchanged keys are
disjoint), the columns read and their types in the producer, and the model's columns. Any
difference, a server before PostgreSQL 13, control functions the role may not call, 2^31
transactions since the watermark, or counts that contradict the merge table (someone changed
it): the batch reads everything, as without change capture.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from workflows.pg import Connection, DatabaseError, text
from workflows.source_tables import SourceTable
from workflows.spec import DatasetSpec
from workflows.tables import bookkeeping, schema_hash

#: Part of every identity: a version of the job that changes what a merge table holds bumps it,
#: so that watermarks left by an older version are not trusted.
VERSION = 1
#: A watermark further back than this (in transactions) is not used: ``age()`` is modulo 2^32.
MAX_DISTANCE = 1 << 31

_SERVER = (
    "SELECT current_setting('server_version_num')::int >= 130000 AND "
    "has_function_privilege('pg_control_system()', 'EXECUTE') AND "
    "has_function_privilege('pg_control_checkpoint()', 'EXECUTE') AS capable, "
    "c.oid::bigint AS table_oid, EXISTS (SELECT FROM pg_inherits h WHERE h.inhparent = c.oid) AS children, "
    "(SELECT d.oid::bigint FROM pg_database d WHERE d.datname = current_database()) AS database_oid "
    "FROM pg_class c WHERE c.oid = to_regclass(:t)"
)
# Only where ``capable``: these functions do not exist before PostgreSQL 13. On a primary the
# timeline is the one WAL is written on now; a standby reports its last restartpoint's.
_POSITION = (
    "SELECT (SELECT system_identifier FROM pg_control_system())::text AS system, "
    "CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())::bigint "
    "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint END AS timeline, "
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin"
)


@dataclass(frozen=True)
class Capture:
    """What a batch knows about one dataset's change capture.

    ``identity`` and ``xmin``: the watermark this batch leaves (None: the next batch reads
    everything). ``since``: the watermark it read changes since (None: it read everything).
    ``total``: the producer's rows in the snapshot. ``keys``: unchanged rows whose keys were
    copied to find deletes (None: there were no deletes, nothing copied). ``deletes``: how many
    the counts say there are, which the merge checks.
    """

    identity: str | None = None
    xmin: int | None = None
    since: int | None = None
    total: int | None = None
    keys: int | None = None
    deletes: int | None = None

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> Capture:
        """From a batch's state; a batch ingested by a version without change capture read everything."""
        return cls(**state) if state else cls()


class CaptureContradictedError(Exception):
    """The merge table does not hold the rows the watermark says it does (it was changed by
    something other than the job): the batch must be ingested again, reading everything."""


def identify(
    conn: Connection, source: SourceTable, dataset: DatasetSpec, strategy: str
) -> tuple[str | None, int | None]:
    """The dataset's table identity and the snapshot's xmin, in ``conn``'s snapshot; (None, None)
    when change capture cannot be trusted for this table (see the module's docstring)."""
    if source.blocks is None or not source.unique_key:  # a view or partitioned table; keys that may repeat
        return None, None
    # In a savepoint: a server where a function is missing or refused (a managed service, say)
    # must read everything, not fail, and the snapshot's transaction must go on. Released either
    # way, since a transaction inside a savepoint cannot export its snapshot for parallel reads.
    conn.execute(text("SAVEPOINT datasurface_identity"))
    try:
        table = conn.execute(text(_SERVER), {"t": source.qualified}).first()
        trusted = table is not None and table.capable and not table.children
        position = conn.execute(text(_POSITION)).one() if trusted else None
    except DatabaseError:
        conn.execute(text("ROLLBACK TO SAVEPOINT datasurface_identity"))
        return None, None
    finally:
        conn.execute(text("RELEASE SAVEPOINT datasurface_identity"))
    if table is None or position is None:
        return None, None
    identity = {
        "system": position.system,
        "timeline": position.timeline,
        "database": table.database_oid,
        "table": table.table_oid,
        "columns": source.types,
        "model": schema_hash(dataset),
        "strategy": strategy,
        "version": VERSION,
    }
    return json.dumps(identity, sort_keys=True), int(position.xmin)


def changes_since(watermark: tuple[str, int] | None, identity: str | None, xmin: int | None) -> int | None:
    """The watermark to read changes since, or None: read everything."""
    if watermark is None or identity is None or xmin is None:
        return None
    previous_identity, previous_xmin = watermark
    if previous_identity != identity or not 0 <= xmin - previous_xmin < MAX_DISTANCE:
        return None
    return previous_xmin


def candidates(since: int) -> str:
    """SQL true for a row version that may differ from the merge table's (see the module's docstring).
    Both ``age()`` calls measure from the same transaction's reference, so the comparison holds
    whatever that is; a non-normal xid (below 3) has the greatest age, making every row a candidate."""
    return f"age(xmin) <= age(CAST('{int(since) % (1 << 32)}' AS xid))"


def unchanged(since: int) -> str:
    return f"NOT ({candidates(since)})"


# The watermarks, kept in the merge database with the merge they describe.


def watermarks(conn: Connection, schema: str, stream: str) -> dict[str, tuple[str, int]]:
    rows = conn.execute(
        text(
            f"SELECT dataset, identity, snapshot_xmin FROM {bookkeeping(schema)['source_watermarks']} WHERE stream = :s"
        ),
        {"s": stream},
    )
    return {r.dataset: (r.identity, int(r.snapshot_xmin)) for r in rows}


def save_watermark(conn: Connection, schema: str, stream: str, dataset: str, capture: Capture) -> None:
    """In the merge's transaction: the next batch reads changes since this one, or everything."""
    table = bookkeeping(schema)["source_watermarks"]
    if capture.identity is None or capture.xmin is None:
        conn.execute(text(f"DELETE FROM {table} WHERE stream = :s AND dataset = :d"), {"s": stream, "d": dataset})
        return
    conn.execute(
        text(
            f"INSERT INTO {table} (stream, dataset, identity, snapshot_xmin) VALUES (:s, :d, :i, :x) "
            "ON CONFLICT (stream, dataset) DO UPDATE SET identity = EXCLUDED.identity, snapshot_xmin = EXCLUDED.snapshot_xmin"
        ),
        {"s": stream, "d": dataset, "i": capture.identity, "x": capture.xmin},
    )


def forget_watermarks(conn: Connection, schema: str, stream: str) -> None:
    """The next batch of every dataset of the stream reads everything."""
    conn.execute(text(f"DELETE FROM {bookkeeping(schema)['source_watermarks']} WHERE stream = :s"), {"s": stream})
