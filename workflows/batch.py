"""Batches of a stream: a counter, a state machine, metrics; and the per-stream lock.

States: ``started`` (staging being loaded) -> ``ingested`` (staging holds one consistent
snapshot) -> ``committed`` (every dataset merged). Each transition is committed together with
the work it records, so a run that dies anywhere leaves a state the next run resumes from.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from workflows.pg import Connection, Database, text
from workflows.tables import bookkeeping, ensure_platform_schema

STARTED, INGESTED, COMMITTED = "started", "ingested", "committed"


class BatchStateError(Exception):
    """A batch operation that the batch's state does not allow: permanent."""


@dataclass
class Batch:
    stream: str
    batch_id: int
    status: str
    state: dict[str, Any]

    @property
    def merged(self) -> list[str]:
        return list(self.state.get("merged", []))


class BatchStore:
    def __init__(self, schema: str, stream: str) -> None:
        self.t = bookkeeping(schema)
        self.schema = schema
        self.stream = stream

    def lock_key(self) -> str:
        return f"datasurface-stream:{self.schema}:{self.stream}"

    def try_lock(self, conn: Connection) -> bool:
        """A session-level advisory lock, held while ``conn`` stays open: runs never interleave."""
        return bool(
            conn.execute(text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), {"k": self.lock_key()}).scalar()
        )

    def unlock(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": self.lock_key()})

    @contextmanager
    def locked(self, merge_db: Database) -> Iterator[bool]:
        """Hold the stream's lock (after making sure the platform's schema exists); yields False
        at once when another run holds it."""
        with merge_db.connect() as conn:
            with conn.begin():
                ensure_platform_schema(conn, self.schema)
            acquired = self.try_lock(conn)
            conn.commit()
            if not acquired:
                yield False
                return
            try:
                yield True
            finally:
                # A lost connection has released the lock already.
                with contextlib.suppress(Exception):
                    self.unlock(conn)
                    conn.commit()

    def last(self, conn: Connection) -> Batch | None:
        row = conn.execute(
            text(
                f"SELECT batch_id, status, state FROM {self.t['batches']} WHERE stream = :s ORDER BY batch_id DESC LIMIT 1"
            ),
            {"s": self.stream},
        ).first()
        return None if row is None else Batch(self.stream, row.batch_id, row.status, dict(row.state))

    def start(self, conn: Connection) -> Batch:
        batch_id = conn.execute(
            text(
                f"INSERT INTO {self.t['batch_counter']} (stream, last_batch) VALUES (:s, 1) "
                "ON CONFLICT (stream) DO UPDATE SET last_batch = batch_counter.last_batch + 1 RETURNING last_batch"
            ),
            {"s": self.stream},
        ).scalar_one()
        conn.execute(
            text(f"INSERT INTO {self.t['batches']} (stream, batch_id, status, state) VALUES (:s, :b, :st, '{{}}')"),
            {"s": self.stream, "b": batch_id, "st": STARTED},
        )
        return Batch(self.stream, batch_id, STARTED, {})

    def set_state(self, conn: Connection, batch: Batch, status: str, state: dict[str, Any]) -> None:
        ended = ", ended_at = now()" if status == COMMITTED else ""
        conn.execute(
            text(
                f"UPDATE {self.t['batches']} SET status = :st, state = CAST(:state AS jsonb){ended} WHERE stream = :s AND batch_id = :b"
            ),
            {"st": status, "state": json.dumps(state, sort_keys=True), "s": self.stream, "b": batch.batch_id},
        )
        if status == COMMITTED:
            self._add_to_totals(conn, batch.batch_id)
        batch.status, batch.state = status, state

    def _add_to_totals(self, conn: Connection, batch_id: int) -> None:
        """Count a committed batch into the stream's and its datasets' running totals, in the
        commit's transaction, so the exporter's counters are exact and never count a batch twice."""
        key = {"s": self.stream, "b": batch_id}
        conn.execute(
            text(
                f"INSERT INTO {self.t['stream_totals']} (stream, batches, batch_seconds) "
                f"SELECT stream, 1, extract(epoch FROM ended_at - started_at) FROM {self.t['batches']} "
                "WHERE stream = :s AND batch_id = :b ON CONFLICT (stream) DO UPDATE SET "
                "batches = stream_totals.batches + 1, batch_seconds = stream_totals.batch_seconds + EXCLUDED.batch_seconds"
            ),
            key,
        )
        conn.execute(
            text(
                f"INSERT INTO {self.t['dataset_totals']} (stream, dataset, inserted, updated, deleted) "
                f"SELECT stream, dataset, inserted, updated, deleted FROM {self.t['batch_metrics']} "
                "WHERE stream = :s AND batch_id = :b ON CONFLICT (stream, dataset) DO UPDATE SET "
                "inserted = dataset_totals.inserted + EXCLUDED.inserted, updated = dataset_totals.updated + EXCLUDED.updated, "
                "deleted = dataset_totals.deleted + EXCLUDED.deleted"
            ),
            key,
        )

    def record_metrics(self, conn: Connection, batch: Batch, dataset: str, metrics: dict[str, int]) -> None:
        conn.execute(
            text(
                f"INSERT INTO {self.t['batch_metrics']} (stream, batch_id, dataset, inserted, updated, deleted, total) "
                "VALUES (:s, :b, :d, :i, :u, :del, :t)"
            ),
            {
                "s": self.stream,
                "b": batch.batch_id,
                "d": dataset,
                "i": metrics["inserted"],
                "u": metrics["updated"],
                "del": metrics["deleted"],
                "t": metrics["total"],
            },
        )

    def metrics(self, conn: Connection, batch_id: int) -> dict[str, dict[str, int]]:
        rows = conn.execute(
            text(
                f"SELECT dataset, inserted, updated, deleted, total FROM {self.t['batch_metrics']} WHERE stream = :s AND batch_id = :b ORDER BY dataset"
            ),
            {"s": self.stream, "b": batch_id},
        )
        return {
            r.dataset: {"inserted": r.inserted, "updated": r.updated, "deleted": r.deleted, "total": r.total}
            for r in rows
        }

    def reset(self, conn: Connection) -> Batch:
        """Send the open batch back to ``started``: it is re-ingested from scratch, merges kept."""
        batch = self.last(conn)
        if batch is None:
            raise BatchStateError(f"stream {self.stream} has no batch to reset")
        if batch.status == COMMITTED:
            raise BatchStateError(
                f"batch {batch.batch_id} of stream {self.stream} is committed and cannot be reset; "
                "the next run starts a new batch"
            )
        if batch.merged:
            raise BatchStateError(
                f"batch {batch.batch_id} of stream {self.stream} has merged {', '.join(batch.merged)} already; "
                "re-ingesting now would merge one batch from two snapshots. Let the next run finish it instead"
            )
        self.set_state(conn, batch, STARTED, {})
        return batch
