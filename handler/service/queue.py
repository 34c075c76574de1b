"""A durable job queue in the state database (SQLite by default, PostgreSQL by URL).

A delivery is recorded and its job enqueued in one transaction, keyed by the delivery id, so
a redelivered webhook is a no-op and an acknowledged delivery is never lost. Deliveries that
arrive together are written in one transaction by a writer thread (group commit): one disk
flush acknowledges them all, which keeps acknowledgements fast under bursts. Jobs that were
running when the service died are queued again at start. Jobs with the same key (one pull
request, or the deployments of one model repository) never run at once; a newer pull-request
job supersedes older queued ones.
"""

from __future__ import annotations

import json
import queue as stdqueue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from pgtools.urls import psycopg2_url

QUEUED, RUNNING, DONE, FAILED, SUPERSEDED = "queued", "running", "done", "failed", "superseded"
#: Job kinds where newer queued work for the same key replaces older queued work.
SUPERSEDING = frozenset({"validate", "revalidate", "merge_group"})

metadata = MetaData()
deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", String(100), primary_key=True),
    Column("event", String(50), nullable=False),
    Column("repo", String(200), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("outcome", String(200), nullable=False),
)
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("delivery_id", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("result", Text, nullable=True),
    Column("report", Text, nullable=True),  # Markdown shown on the job's page
    Column("not_before", Float, nullable=True),  # a retry waits until then (GitHub's Retry-After, backoff)
    Index("jobs_key_status", "key", "status"),  # supersede and claim look up one key's queued jobs
)
# What each validation judged: the model (its canonical hash) of a tree of a model repository.
# A merge is deployed only when its tree's model, evaluated again, has the hash of a passing one.
validations = Table(
    "validations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("repo", String(200), nullable=False),
    Column("tree", String(64), nullable=False),
    Column("model_hash", String(64), nullable=False),
    Column("verdict", String(10), nullable=False),
    Column("pull_request", Integer, nullable=False),
    Column("commit_sha", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("validations_repo_tree", "repo", "tree"),
)


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    kind: str
    delivery_id: str
    payload: dict[str, Any]
    attempts: int


def state_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(psycopg2_url(parsed), pool_pre_ping=True)
    engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=FULL")  # an acknowledged delivery survives a power cut
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    return engine


def _add_missing_columns(engine: Engine) -> None:
    """State databases made by an older version gain the columns added since (all nullable)."""
    present = {c["name"] for c in inspect(engine).get_columns("jobs")}
    with engine.begin() as conn:
        for column in jobs.columns:
            if column.name not in present:
                conn.execute(text(f"ALTER TABLE jobs ADD COLUMN {column.name} {column.type.compile(engine.dialect)}"))


class JobQueue:
    def __init__(self, url: str) -> None:
        self.engine = state_engine(url)
        metadata.create_all(self.engine)
        _add_missing_columns(self.engine)
        self._claim_lock = threading.Lock()  # one claimer at a time in this process (SQLite has no SKIP LOCKED)
        self._pending: stdqueue.Queue[Any] = stdqueue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="datasurface-queue-writer", daemon=True)
        self._writer.start()

    def submit(
        self,
        delivery_id: str,
        event: str,
        repo: str,
        outcome: str,
        jobs: list[tuple[str, str, dict[str, Any]]] | None = None,
    ) -> Future[bool]:
        """Record a delivery (and enqueue its job) once. Resolves, when durably written by the
        writer thread, to False if the delivery id was seen before."""
        future: Future[bool] = Future()
        self._pending.put((future, (delivery_id, event, repo, outcome, jobs)))
        return future

    def _write_loop(self) -> None:
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 500:
                try:
                    item = self._pending.get_nowait()
                except stdqueue.Empty:
                    break
                if item is None:
                    self._pending.put(None)
                    break
                batch.append(item)
            try:
                with self.engine.begin() as conn:
                    results = [self._record(conn, *args) for _future, args in batch]
            except Exception as exc:  # noqa: BLE001 - every waiting request learns of the failure
                for future, _args in batch:
                    future.set_exception(exc)
                continue
            for (future, _args), accepted in zip(batch, results, strict=True):
                future.set_result(accepted)

    def _record(
        self,
        conn: Connection,
        delivery_id: str,
        event: str,
        repo: str,
        outcome: str,
        jobs: list[tuple[str, str, dict[str, Any]]] | None,
    ) -> bool:
        now = time.time()
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        inserted = conn.execute(
            dialect.insert(deliveries)
            .values(delivery_id=delivery_id, event=event, repo=repo, received_at=now, outcome=outcome)
            .on_conflict_do_nothing()
        )
        if inserted.rowcount != 1:
            return False
        for kind, key, payload in jobs or []:
            self._insert_job(conn, kind, key, payload, delivery_id, supersede=kind in SUPERSEDING)
        return True

    @staticmethod
    def _insert_job(
        conn: Connection,
        kind: str,
        key: str,
        payload: dict[str, Any],
        delivery_id: str,
        *,
        supersede: bool,
        not_before: float | None = None,
    ) -> None:
        now = time.time()
        if supersede:  # newer work for the same key makes queued work for it pointless
            conn.execute(
                update(jobs)
                .where(jobs.c.key == key, jobs.c.kind == kind, jobs.c.status == QUEUED)
                .values(status=SUPERSEDED, updated_at=now, result="superseded by newer work")
            )
        conn.execute(
            insert(jobs).values(
                key=key,
                kind=kind,
                delivery_id=delivery_id,
                payload=msgspec.json.encode(payload).decode(),
                status=QUEUED,
                attempts=0,
                created_at=now,
                updated_at=now,
                not_before=not_before,
            )
        )

    def enqueue(self, kind: str, key: str, payload: dict[str, Any], *, not_before: float | None = None) -> None:
        """Queue work that no webhook delivered (re-validations, a status still to report)."""
        with self.engine.begin() as conn:
            self._insert_job(
                conn, kind, key, payload, f"internal:{kind}", supersede=kind in SUPERSEDING, not_before=not_before
            )

    def close(self) -> None:
        self._pending.put(None)
        self._writer.join(10)
        self.engine.dispose()

    def claim(self) -> Job | None:
        with self._claim_lock, self.engine.begin() as conn:
            busy = select(jobs.c.key).where(jobs.c.status == RUNNING).scalar_subquery()
            due = (jobs.c.not_before.is_(None)) | (jobs.c.not_before <= time.time())
            row = conn.execute(
                select(jobs).where(jobs.c.status == QUEUED, due, jobs.c.key.not_in(busy)).order_by(jobs.c.id).limit(1)
            ).first()
            if row is None:
                return None
            claimed = conn.execute(
                update(jobs)
                .where(jobs.c.id == row.id, jobs.c.status == QUEUED)
                .values(status=RUNNING, attempts=row.attempts + 1, updated_at=time.time())
            )
            if claimed.rowcount != 1:
                return None
            return Job(row.id, row.key, row.kind, row.delivery_id, json.loads(row.payload), row.attempts + 1)

    def finish(self, job: Job, status: str, result: str, report: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(status=status, result=result[:2000], report=report, updated_at=time.time())
            )

    def retry_later(self, job: Job, result: str, not_before: float) -> None:
        """Back to the queue, not to be claimed before ``not_before`` (a worker never sleeps on it)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(status=QUEUED, result=result[:2000], not_before=not_before, updated_at=time.time())
            )

    def record_validation(
        self, repo: str, tree: str, model_hash: str, verdict: str, pull_request: int, sha: str
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(validations).values(
                    repo=repo,
                    tree=tree,
                    model_hash=model_hash,
                    verdict=verdict,
                    pull_request=pull_request,
                    commit_sha=sha,
                    created_at=time.time(),
                )
            )

    def validated_hashes(self, repo: str, tree: str) -> set[str]:
        """Model hashes that passed validation for this tree of the repository."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(validations.c.model_hash).where(
                    validations.c.repo == repo, validations.c.tree == tree, validations.c.verdict == "pass"
                )
            ).all()
        return {row.model_hash for row in rows}

    def job(self, job_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else dict(row._mapping)

    def recover(self) -> int:
        """Jobs left running by a dead process go back to the queue."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(jobs).where(jobs.c.status == RUNNING).values(status=QUEUED, updated_at=time.time())
            ).rowcount

    def depth(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.status.in_([QUEUED, RUNNING]))
                ).scalar_one()
            )

    def oldest_ready_age(self) -> float:
        """Seconds the oldest job that could run now has waited (0 when none): jobs waiting for
        their ``not_before`` (a retry's backoff, the next look at a rollout) are not a backlog."""
        now = time.time()
        with self.engine.connect() as conn:
            since = conn.execute(
                select(func.min(func.coalesce(jobs.c.not_before, jobs.c.created_at))).where(
                    jobs.c.status == QUEUED, (jobs.c.not_before.is_(None)) | (jobs.c.not_before <= now)
                )
            ).scalar_one()
        return max(0.0, now - float(since)) if since is not None else 0.0

    def recent_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs).order_by(jobs.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def recent_deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(deliveries).order_by(deliveries.c.received_at.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def jobs_with(self, status: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(select(jobs).where(jobs.c.status == status).order_by(jobs.c.id)).all()
            ]
