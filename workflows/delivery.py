"""Delivery to consumer databases: PostgreSQL logical replication from the merge database.

A workspace that names its own database reads the same views as every other workspace, served
by that database: the merge database publishes the merge tables those views read and the
milestones of the platform's batches; the consumer database subscribes to them. One
publication, one replication slot and one subscription per (platform, consumer database), all
with one name (``delivery_name``). docs/consumer-views.md says why replication and not
``postgres_fdw``.

Replication carries rows, not DDL, so the reconcile step evolves the consumer's copies of the
tables first (a new nullable column or a wider type there accepts old and new rows alike), then
the merge tables, then the publication, then the subscription. Merges never wait for a consumer
database: the slot keeps the merge database's changes until the subscriber confirms them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg2.extensions import make_dsn

from workflows.pg import Connection, Database, text
from workflows.spec import DatabaseSpec, DatasetSpec, JobSpec, ViewSpec
from workflows.sqlnames import delivery_name, literal, platform_schema, quote
from workflows.tables import (
    MIRRORED_BATCH_COLUMNS,
    DatasetTables,
    bookkeeping,
    ddl_lock,
    ensure_dataset_tables,
    ensure_mirror_schema,
    ensure_replica_identity,
)


class DeliveryError(Exception):
    """Delivery to a consumer database cannot be set up as configured (with what to do)."""


@dataclass(frozen=True)
class Delivery:
    """What one stream delivers to one consumer database."""

    database: DatabaseSpec
    name: str  # of the publication, the replication slot and the subscription
    datasets: tuple[DatasetSpec, ...]
    views: tuple[ViewSpec, ...]

    @property
    def label(self) -> str:
        return f"{self.database.database} on {self.database.host}:{self.database.port}"


def deliveries(spec: JobSpec) -> list[Delivery]:
    """The consumer databases the spec's views live in, with the datasets each needs."""
    by_database: dict[tuple[str, int, str], tuple[DatabaseSpec, list[ViewSpec]]] = {}
    for view in spec.views:
        if view.database is not None:
            key = (view.database.host, view.database.port, view.database.database)
            by_database.setdefault(key, (view.database, []))[1].append(view)
    datasets = {d.name: d for d in spec.datasets}
    result = []
    for database, views in by_database.values():
        names = sorted({v.dataset for v in views})
        result.append(
            Delivery(
                database,
                delivery_name(spec.platform, spec.merge, database),
                tuple(datasets[n] for n in names),
                tuple(views),
            )
        )
    return result


def prepare_consumer(conn: Connection, spec: JobSpec, delivery: Delivery) -> None:
    """The consumer's copies of the platform's tables, created or evolved to match the spec
    (in the caller's transaction)."""
    ensure_mirror_schema(conn, platform_schema(spec.platform))
    for dataset in delivery.datasets:
        if ensure_dataset_tables(conn, spec, dataset, staging=False):  # once made, no lock on the copy again
            ensure_replica_identity(conn, DatasetTables.of(spec, dataset), dataset)


def publish(conn: Connection, spec: JobSpec, delivery: Delivery) -> None:
    """The publication of the delivery's tables on the merge database (in the caller's transaction,
    after the merge tables exist)."""
    level = conn.execute(text("SHOW wal_level")).scalar_one()
    if level != "logical":
        raise DeliveryError(
            f"the merge database has wal_level = {level}; delivery to consumer databases needs logical "
            "replication: ALTER SYSTEM SET wal_level = logical, then restart the merge database's server"
        )
    schema = platform_schema(spec.platform)
    ddl_lock(conn, schema)  # streams of one platform share its publications
    exists = conn.execute(text("SELECT 1 FROM pg_publication WHERE pubname = :n"), {"n": delivery.name}).first()
    if exists is None:
        conn.execute(text(f"CREATE PUBLICATION {quote(delivery.name)} WITH (publish_via_partition_root = true)"))
    for dataset in delivery.datasets:
        tables = DatasetTables.of(spec, dataset)
        if not _published(conn, delivery.name, tables.merge):
            ensure_replica_identity(conn, tables, dataset)  # before publishing: the merge's UPDATEs need it
            conn.execute(text(f"ALTER PUBLICATION {quote(delivery.name)} ADD TABLE {tables.merge}"))
    batches = bookkeeping(schema)["batches"]
    if not _published(conn, delivery.name, batches):
        columns = ", ".join(MIRRORED_BATCH_COLUMNS)
        conn.execute(text(f"ALTER PUBLICATION {quote(delivery.name)} ADD TABLE {batches} ({columns})"))


def _published(conn: Connection, publication: str, table: str) -> bool:
    return (
        conn.execute(
            text(
                "SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid "
                "WHERE p.pubname = :n AND r.prrelid = CAST(:t AS regclass)"
            ),
            {"n": publication, "t": table},
        ).first()
        is not None
    )


def subscribe(merge: Database, consumer: Database, delivery: Delivery) -> str:
    """Create, repair or refresh the consumer database's subscription; says what it did."""
    with (
        consumer.connect().isolation("AUTOCOMMIT") as sub,
        merge.connect().isolation("AUTOCOMMIT") as pub,
        _session_lock(sub, f"datasurface-subscription:{delivery.name}"),  # reconciles of several streams
    ):
        return _subscribe(pub, sub, delivery)


@contextmanager
def _session_lock(conn: Connection, key: str) -> Iterator[None]:
    conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), {"k": key})
    try:
        yield
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": key})


def _subscribe(pub: Connection, sub: Connection, delivery: Delivery) -> str:
    name = quote(delivery.name)
    conninfo = publisher_conninfo(pub)
    fingerprint = "datasurface publisher " + hashlib.sha256(conninfo.encode()).hexdigest()[:16]
    current = sub.execute(
        text(
            "SELECT s.oid, s.subenabled, obj_description(s.oid, 'pg_subscription') AS note FROM pg_subscription s "
            "JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = current_database() AND s.subname = :n"
        ),
        {"n": delivery.name},
    ).first()
    slot = pub.execute(
        text("SELECT active, database, wal_status FROM pg_replication_slots WHERE slot_name = :n"),
        {"n": delivery.name},
    ).first()
    if slot is not None and slot.database != pub.execute(text("SELECT current_database()")).scalar_one():
        raise DeliveryError(
            f"replication slot {delivery.name} on the merge database's server belongs to database {slot.database}; "
            "two merge databases of one server deliver the same platform to this consumer database"
        )
    lost = slot is not None and slot.wal_status == "lost"  # past max_slot_wal_keep_size: its changes are gone
    if current is not None and (slot is None or lost):
        # The merge database lost the slot or its WAL (a restore, a slot dropped by hand, a
        # subscriber away past max_slot_wal_keep_size): start over from a fresh copy rather than
        # serve a gap.
        sub.execute(text(f"ALTER SUBSCRIPTION {name} DISABLE"))
        sub.execute(text(f"ALTER SUBSCRIPTION {name} SET (slot_name = NONE)"))
        sub.execute(text(f"DROP SUBSCRIPTION {name}"))
        if lost:
            pub.execute(text("SELECT pg_drop_replication_slot(:n)"), {"n": delivery.name})
        return "recreated (its replication slot was gone): " + _create(pub, sub, delivery, conninfo, fingerprint)
    if current is None:
        if slot is not None:
            if slot.active:
                raise DeliveryError(
                    f"replication slot {delivery.name} on the merge database is in use by another subscriber; "
                    "is another consumer database registered under the same address?"
                )
            pub.execute(text("SELECT pg_drop_replication_slot(:n)"), {"n": delivery.name})
        return _create(pub, sub, delivery, conninfo, fingerprint)
    done = []
    if current.note != fingerprint:
        sub.execute(text(f"ALTER SUBSCRIPTION {name} CONNECTION {literal(conninfo)}"))
        sub.execute(text(f"COMMENT ON SUBSCRIPTION {name} IS {literal(fingerprint)}"))
        done.append("connection updated")
    if not current.subenabled:
        sub.execute(text(f"ALTER SUBSCRIPTION {name} ENABLE"))
        done.append("enabled")
    subscribed = {
        (r.nspname, r.relname)
        for r in sub.execute(
            text(
                "SELECT n.nspname, c.relname FROM pg_subscription_rel r JOIN pg_class c ON c.oid = r.srrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.srsubid = :s"
            ),
            {"s": current.oid},
        )
    }
    if not set(_publication_tables(pub, delivery.name)) <= subscribed:
        sub.execute(text(f"ALTER SUBSCRIPTION {name} REFRESH PUBLICATION"))
        done.append("new tables added")
    return ", ".join(done) or "up to date"


def _publication_tables(pub: Connection, publication: str) -> list[tuple[str, str]]:
    rows = pub.execute(
        text("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = :n ORDER BY 1, 2"),
        {"n": publication},
    )
    return [(r.schemaname, r.tablename) for r in rows]


def _create(pub: Connection, sub: Connection, delivery: Delivery, conninfo: str, fingerprint: str) -> str:
    name = quote(delivery.name)
    tables = [f"{quote(s)}.{quote(t)}" for s, t in _publication_tables(pub, delivery.name)]
    present = [t for t in tables if sub.execute(text("SELECT to_regclass(:t)"), {"t": t}).scalar_one() is not None]
    if present:  # a new subscription copies everything again: leftovers of an old one would double up
        sub.execute(text(f"TRUNCATE {', '.join(present)}"))
    # The slot is made here, not by CREATE SUBSCRIPTION: that cannot make a slot on its own
    # server (the command would wait for its own transaction), and a consumer database may
    # well share the merge database's server.
    pub.execute(text("SELECT pg_create_logical_replication_slot(:n, 'pgoutput')"), {"n": delivery.name})
    try:
        sub.execute(
            text(
                f"CREATE SUBSCRIPTION {name} CONNECTION {literal(conninfo)} PUBLICATION {name} "
                f"WITH (create_slot = false, slot_name = {literal(delivery.name)}, copy_data = true)"
            )
        )
    except Exception:
        pub.execute(text("SELECT pg_drop_replication_slot(:n)"), {"n": delivery.name})  # never leave a slot behind
        raise
    sub.execute(text(f"COMMENT ON SUBSCRIPTION {name} IS {literal(fingerprint)}"))
    return f"created, copying {len(tables)} tables"


def publisher_conninfo(pub: Connection) -> str:
    """How the consumer database's server reaches the merge database: as this job did."""
    info = pub.raw.info
    params = {"host": info.host, "port": str(info.port), "dbname": info.dbname, "user": info.user}
    if info.password:
        params["password"] = info.password
    return str(make_dsn(**params))
