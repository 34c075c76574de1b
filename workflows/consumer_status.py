"""How far each workspace's own consumer database is behind the merge database.

Per (platform, stream, workspace) whose views live in a consumer database: the stream's last batch
that database has (its copy of the platform's ``batches`` arrives by the same replication as the
rows, in commit order, so that batch's data is there too), how old that batch is, and the lag: how
long the oldest committed batch it does not have yet has been waiting (0 when it has them all).
Per delivery, from the merge database: whether a subscriber is streaming from the replication
slot, and how many bytes of the merge database's changes it has not yet confirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from workflows.batch import COMMITTED
from workflows.db import consumer_database, error_summary
from workflows.delivery import deliveries
from workflows.pg import Connection, Database, text
from workflows.spec import DatabaseSpec, JobSpec
from workflows.sqlnames import platform_schema
from workflows.tables import bookkeeping

DatabaseFactory = Callable[[DatabaseSpec], Database]


def consumer_databases(application: str, connect_timeout: int = 3) -> DatabaseFactory:
    """Consumer databases, made once each (a scrape must not wait long for one that is down)."""
    databases: dict[tuple[str, int, str], Database] = {}

    def get(db: DatabaseSpec) -> Database:
        key = (db.host, db.port, db.database)
        if key not in databases:
            databases[key] = consumer_database(db, application, connect_timeout=connect_timeout)
        return databases[key]

    return get


@dataclass
class ConsumerStatus:
    platform: str
    stream: str
    workspace: str
    database: str  # "<database> on <host>:<port>"
    reachable: bool  # the consumer database could be read
    replication_active: bool  # a subscriber streams from the delivery's slot now
    lag_bytes: int | None  # merge database changes the subscription has not confirmed; None without a slot
    last_batch: int | None = None  # the stream's last committed batch the consumer database has
    last_commit_at: datetime | None = None
    age_seconds: float | None = None  # since that batch committed
    lag_seconds: float | None = None  # how long the oldest batch it lacks has waited; 0 when it has all
    error: str | None = None


@dataclass(frozen=True)
class _Target:
    platform: str
    stream: str
    workspaces: tuple[str, ...]
    name: str  # the delivery's
    database: DatabaseSpec
    label: str


def _targets(specs: list[JobSpec]) -> list[_Target]:
    return [
        _Target(spec.platform, spec.stream, tuple(sorted({v.workspace for v in d.views})), d.name, d.database, d.label)
        for spec in specs
        for d in deliveries(spec)
    ]


def collect_consumers(merge: Database, specs: list[JobSpec], consumer_db: DatabaseFactory) -> list[ConsumerStatus]:
    """The delivery figures of every consumer database the specs name; a consumer database that
    cannot be read is reported (``reachable`` False, with the error), never raised."""
    targets = _targets(specs)
    if not targets:
        return []
    now = datetime.now(UTC)
    with merge.connect() as conn:
        merge_batches = {
            t.platform: conn.execute(
                text("SELECT to_regclass(:t) IS NOT NULL"), {"t": _batches(t.platform)}
            ).scalar_one()
            for t in targets
        }
        slots = {
            r.slot_name: r
            for r in conn.execute(
                text(
                    "SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) AS lag "
                    "FROM pg_replication_slots WHERE slot_name = ANY(:names)"
                ),
                {"names": sorted({t.name for t in targets})},
            )
        }
        result = []
        for target in targets:
            slot = slots.get(target.name)
            base = ConsumerStatus(
                platform=target.platform,
                stream=target.stream,
                workspace="",
                database=target.label,
                reachable=True,
                replication_active=bool(slot is not None and slot.active),
                lag_bytes=int(slot.lag) if slot is not None and slot.lag is not None else None,
            )
            try:
                last, committed = _consumer_last_batch(consumer_db(target.database), target)
            except Exception as exc:  # noqa: BLE001 - an unreachable consumer database is a figure, not a failure
                error = error_summary(exc)
                result += [replace(base, workspace=w, reachable=False, error=error) for w in target.workspaces]
                continue
            waiting = _oldest_missing(conn, target, last) if merge_batches[target.platform] else None
            figures = replace(
                base,
                last_batch=last,
                last_commit_at=committed,
                age_seconds=(now - committed).total_seconds() if committed else None,
                lag_seconds=max(0.0, (now - waiting).total_seconds()) if waiting else 0.0,
            )
            result += [replace(figures, workspace=w) for w in target.workspaces]
    return result


def _batches(platform: str) -> str:
    return bookkeeping(platform_schema(platform))["batches"]


def _consumer_last_batch(database: Database, target: _Target) -> tuple[int | None, datetime | None]:
    batches = _batches(target.platform)
    with database.connect() as conn:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": batches}).scalar_one() is None:
            return None, None  # delivery not set up yet
        row = conn.execute(
            text(
                f"SELECT batch_id, ended_at FROM {batches} WHERE stream = :s AND status = '{COMMITTED}' "
                "ORDER BY batch_id DESC LIMIT 1"
            ),
            {"s": target.stream},
        ).first()
    return (row.batch_id, row.ended_at) if row else (None, None)


def _oldest_missing(conn: Connection, target: _Target, last: int | None) -> datetime | None:
    """When the oldest committed batch the consumer database lacks committed (None: it lacks none)."""
    row = conn.execute(
        text(
            f"SELECT ended_at FROM {_batches(target.platform)} WHERE stream = :s AND status = '{COMMITTED}' AND batch_id > :b "
            "ORDER BY batch_id LIMIT 1"
        ),
        {"s": target.stream, "b": -1 if last is None else last},
    ).first()
    return row.ended_at if row else None
