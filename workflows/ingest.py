"""Ingestion: copy every dataset of a stream from the producer into staging, from one snapshot.

Every table of a stream is read in ``REPEATABLE READ, READ ONLY`` transactions of the source
that share one snapshot, so a multi-dataset store lands as one consistent snapshot even while
the producer writes. With ``parallel`` = 1 one transaction reads every table in turn; with more,
a coordinating transaction exports its snapshot (``pg_export_snapshot()``) and each worker
connection imports it (``SET TRANSACTION SNAPSHOT``) before reading, so all of them see exactly
the same rows (workflows/copy_plan.py splits the work). Rows stream through COPY: the source's
COPY TO output is piped into the merge database's COPY FROM input, so the job never holds a
table in memory; the binary format when the producer's column types are the model's, else
text (which converts, and refuses a value the model's type cannot hold).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace

from workflows.bulk_load import indexes_built_after
from workflows.change_capture import Capture, candidates, changes_since, identify, unchanged
from workflows.copy_plan import Chunk, plan_chunks
from workflows.pg import Connection, Database, text
from workflows.source_tables import SourceSchemaError, SourceTable, resolve_source_table
from workflows.spec import ColumnSpec, DatasetSpec, JobSpec
from workflows.sqlnames import quote
from workflows.tables import (
    SCRATCH_OPTIONS,
    DatasetTables,
    analyze_sampled,
    key_list,
    keys_match,
    unlogged_staging,
)

_READ_SIZE = 1 << 18  # bytes per read of the pipe into COPY FROM, and per write into it
_PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size: what an unprivileged process may ask for


def stream_copy(source_conn: Connection, query: str, target_conn: Connection, target_sql: str) -> int:
    """COPY ``query`` out of the source into ``target_sql`` (a COPY ... FROM STDIN), through a
    pipe; both statements name the same format. Returns the rows copied."""
    read_fd, write_fd = os.pipe()
    _widen(write_fd)
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=_READ_SIZE) as sink, source_conn.raw.cursor() as cursor:
                cursor.copy_expert(query, sink)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name="copy-out", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe, target_conn.raw.cursor() as cursor:
            cursor.copy_expert(target_sql, pipe, size=_READ_SIZE)
            copied = int(cursor.rowcount)
    finally:
        producer.join()
    if failure:
        # The target saw a truncated stream as a clean end: the caller's transaction must not commit.
        raise failure[0]
    return copied


def _widen(pipe: int) -> None:
    """Grow the pipe from 64 KiB to 1 MiB where the system allows (Linux): with the default, the
    two threads hand over 64 KiB at a time and a million-row copy took 1.3-1.6 s instead of
    0.8-1.0 s (psql's pipe: 0.83 s). Best effort: a smaller pipe is slower, not wrong."""
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)


def _copy_statements(
    source: SourceTable,
    columns: list[ColumnSpec],
    target: str,
    *conditions: str | None,
    constants: Mapping[str, int] | None = None,
) -> tuple[str, str]:
    """The COPY out of the producer (``columns`` under the model's names, then ``constants``:
    bigint columns every row gets, and only rows meeting every condition given) and the COPY
    into ``target``, in one format."""
    fixed = dict(constants or {})
    select = ", ".join(
        [f"{quote(source.columns[c.name])} AS {quote(c.name)}" for c in columns]
        + [f"CAST({int(value)} AS bigint) AS {quote(name)}" for name, value in fixed.items()]
    )
    given = [c for c in conditions if c]
    where = f" WHERE {' AND '.join(given)}" if given else ""
    fmt = " (FORMAT binary)" if source.binary else ""
    names = [quote(c.name) for c in columns] + [quote(name) for name in fixed]
    return (
        f"COPY (SELECT {select} FROM {source.qualified}{where}) TO STDOUT{fmt}",
        f"COPY {target} ({', '.join(names)}) FROM STDIN{fmt}",
    )


def _rows_since(since: int | None) -> str | None:
    """The condition on rows to stage: the candidates since a watermark, or none (every row)."""
    return None if since is None else candidates(since)


@contextmanager
def _snapshot_reader(source_db: Database, snapshot: str | None = None) -> Iterator[Connection]:
    """A read-only REPEATABLE READ transaction of the source; on ``snapshot`` when given."""
    with source_db.connect() as opened:
        conn = opened.isolation("REPEATABLE READ")
        with conn.begin():
            if snapshot is not None:
                conn.execute(text("SET TRANSACTION SNAPSHOT :s"), {"s": snapshot})  # must come first
            conn.execute(text("SET TRANSACTION READ ONLY"))
            yield conn


@dataclass(frozen=True)
class Ingested:
    """One dataset's ingestion: rows staged, and its change capture (``capture.total``: the
    producer's rows in the snapshot)."""

    staged: int
    capture: Capture


@dataclass(frozen=True)
class _Read:
    """What ingestion reads for one dataset, and into which tables."""

    dataset: DatasetSpec
    tables: DatasetTables
    source: SourceTable
    plan: Capture  # ``since``: read the candidates only

    @property
    def name(self) -> str:
        return self.dataset.name


def ingest_stream(
    spec: JobSpec,
    source_db: Database,
    merge_conn: Connection,
    on_dataset: Callable[[str], None] | None = None,
    parallel: int = 1,
    watermarks: Mapping[str, tuple[str, int]] | None = None,
) -> dict[str, Ingested]:
    """Load the staging table of every dataset of ``spec`` from one source snapshot.

    With a dataset's ``watermarks`` entry (its last merge's, workflows/change_capture.py) and an
    unchanged table identity, only rows that may have changed since are staged; without one
    (``None``: change capture off), every row. With one connection (``parallel`` = 1, or one
    piece of work: workflows/copy_plan.py) it runs inside the caller's merge-database
    transaction, which commits staging together with the batch state. More: ``parallel`` worker
    connections of ``merge_conn``'s database load and commit the staging tables; the caller's
    transaction then records the batch state (staging is scratch until that state says
    ``ingested``).
    """
    with _snapshot_reader(source_db) as source_conn:
        reads = _reads(spec, source_conn, merge_conn, watermarks)
        captured = [read for read in reads if read.plan.since is not None]
        chunks = plan_chunks({read.name: read.source for read in reads}, parallel, {r.name for r in captured})
        serial = parallel <= 1 or len(chunks) <= 1  # one piece of work: no worker connections
        snapshot = None
        if captured or not serial:  # other connections read this snapshot too
            snapshot = str(source_conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
        with _counting(source_db, snapshot, merge_conn.database, captured) as counts:
            if serial or snapshot is None:
                staged = _ingest_serially(source_conn, merge_conn, reads, on_dataset)
            else:
                staged = _ingest_in_parallel(source_db, snapshot, merge_conn, reads, chunks, on_dataset, parallel)
            ingested = {read.name: _settle(source_conn, merge_conn, read, staged[read.name], counts) for read in reads}
    for read in reads:
        if not read.source.unique_key:
            _refuse_duplicate_keys(merge_conn, read.dataset, read.tables.staging)
    return ingested


def load_stream(
    spec: JobSpec,
    source_db: Database,
    merge_conn: Connection,
    batch_columns: Mapping[str, int],
    on_dataset: Callable[[str], None] | None = None,
    capture: bool = True,
) -> dict[str, Ingested]:
    """A stream's first load: every row of every dataset copied from one snapshot straight into
    its empty merge table (each row also gets ``batch_columns``), in the caller's transaction.

    No staging and no second pass: the copy is the merge, and the caller commits it with the
    batch's metrics, so readers see every table go from empty to loaded in one step. One
    connection copies (a transaction belongs to one), and the tables' indexes are built once
    after their rows are in (workflows/bulk_load.py). ``capture``: take the tables' identities,
    so the next batch can read changes only."""
    with _snapshot_reader(source_db) as source_conn:
        reads = _reads(spec, source_conn, merge_conn, {} if capture else None)
        loaded: dict[str, Ingested] = {}
        for read in reads:
            target = read.tables.current
            with indexes_built_after(merge_conn, target):
                out, into = _copy_statements(read.source, read.dataset.columns, target, constants=batch_columns)
                rows = stream_copy(source_conn, out, merge_conn, into)
                if not read.source.unique_key:
                    _refuse_duplicate_keys(merge_conn, read.dataset, target)
            loaded[read.name] = Ingested(rows, replace(read.plan, total=rows))
            if on_dataset:
                on_dataset(read.name)
    return loaded


def _reads(
    spec: JobSpec, source_conn: Connection, merge_conn: Connection, watermarks: Mapping[str, tuple[str, int]] | None
) -> list[_Read]:
    reads = []
    for dataset in spec.datasets:
        target = DatasetTables.of(spec, dataset)
        source = resolve_source_table(source_conn, merge_conn, dataset, target.staging, spec.source.database)
        reads.append(_Read(dataset, target, source, _plan(source_conn, dataset, source, target, watermarks)))
    return reads


def _plan(
    source_conn: Connection,
    dataset: DatasetSpec,
    source: SourceTable,
    tables: DatasetTables,
    watermarks: Mapping[str, tuple[str, int]] | None,
) -> Capture:
    if watermarks is None:
        return Capture()
    identity, xmin = identify(source_conn, source, dataset, "forensic" if tables.forensic else "live")
    return Capture(identity, xmin, changes_since(watermarks.get(dataset.name), identity, xmin))


def _ingest_serially(
    source_conn: Connection, merge_conn: Connection, reads: list[_Read], on_dataset: Callable[[str], None] | None
) -> dict[str, int]:
    rows: dict[str, int] = {}
    for read in reads:
        rows[read.name] = _stage(source_conn, merge_conn, read, read.plan.since)
        if on_dataset:
            on_dataset(read.name)
    return rows


def _stage(source_conn: Connection, merge_conn: Connection, read: _Read, since: int | None) -> int:
    """Empty the dataset's staging and copy into it: every row, or the candidates ``since``."""
    unlogged_staging(merge_conn, [read.tables.staging])
    out, into = _copy_statements(read.source, read.dataset.columns, read.tables.staging, _rows_since(since))
    return stream_copy(source_conn, out, merge_conn, into)


def _ingest_in_parallel(
    source_db: Database,
    snapshot: str,
    merge_conn: Connection,
    reads: list[_Read],
    chunks: list[Chunk],
    on_dataset: Callable[[str], None] | None,
    parallel: int,
) -> dict[str, int]:
    merge_db = merge_conn.database
    with merge_db.begin() as truncating:  # committed first: the workers' COPYs must not wait on it
        unlogged_staging(truncating, [read.tables.staging for read in reads])
    by_name = {read.name: read for read in reads}

    def load(chunk: Chunk) -> int:
        read = by_name[chunk.dataset]
        out, into = _copy_statements(
            read.source, read.dataset.columns, read.tables.staging, chunk.where, _rows_since(read.plan.since)
        )
        with _snapshot_reader(source_db, snapshot) as source_conn, merge_db.begin() as target:
            return stream_copy(source_conn, out, target, into)

    rows = dict.fromkeys(by_name, 0)
    left = {name: sum(1 for c in chunks if c.dataset == name) for name in by_name}
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="ingest") as pool:
        running: dict[Future[int], Chunk] = {pool.submit(load, chunk): chunk for chunk in chunks}
        try:
            while running:
                done, _ = wait(running, return_when=FIRST_EXCEPTION)
                for future in done:
                    chunk = running.pop(future)
                    rows[chunk.dataset] += future.result()  # a failed chunk raises here
                    left[chunk.dataset] -= 1
                    if left[chunk.dataset] == 0 and on_dataset:
                        on_dataset(chunk.dataset)
        finally:
            for future in running:
                future.cancel()
    return rows


@dataclass(frozen=True)
class _Counts:
    """What change capture counts to find deletes, counted while the candidates are copied: the
    producer's rows in the batch's snapshot and the merge tables' current rows, by dataset."""

    producer: Future[dict[str, int]]
    current: Future[dict[str, int]]


@contextmanager
def _counting(
    source_db: Database, snapshot: str | None, merge_db: Database, reads: list[_Read]
) -> Iterator[_Counts | None]:
    """Count the ``reads``' tables on two connections of their own, one importing ``snapshot``,
    while the caller copies: three scans at once instead of one after the other."""
    if not reads or snapshot is None:
        yield None
        return

    def producer() -> dict[str, int]:
        with _snapshot_reader(source_db, snapshot) as conn:
            return {r.name: _count(conn, r.source.qualified) for r in reads}

    def current() -> dict[str, int]:
        with merge_db.begin() as conn:
            return {r.name: _count(conn, r.tables.current) for r in reads}

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="count") as pool:
        yield _Counts(pool.submit(producer), pool.submit(current))


def _count(conn: Connection, relation: str) -> int:
    """The rows of ``relation``: a table, or a join of tables."""
    return int(conn.execute(text(f"SELECT count(*) FROM {relation}")).scalar_one())


def _settle(
    source_conn: Connection, merge_conn: Connection, read: _Read, staged: int, counts: _Counts | None
) -> Ingested:
    """Complete a dataset's ingestion in the snapshot: for one read for its changes, count the
    deletes and, when there are some, copy the unchanged rows' keys to find them. Counts that
    contradict the merge table (fewer current rows than unchanged ones) mean reading everything."""
    plan = read.plan
    if plan.since is None or counts is None:
        return Ingested(staged, replace(plan, total=staged))
    on = keys_match([quote(c.name) for c in read.dataset.key_columns], "s", "m")
    matched = _count(merge_conn, f"{read.tables.staging} s JOIN {read.tables.current} m ON {on}")
    total, current = counts.producer.result()[read.name], counts.current.result()[read.name]
    unchanged_rows = total - staged
    deleted = current - matched - unchanged_rows
    if deleted == 0:
        return Ingested(staged, replace(plan, total=total, deletes=0))
    if deleted > 0:
        keys = _copy_unchanged_keys(source_conn, merge_conn, read, plan.since)
        if keys == unchanged_rows:  # the merge checks that every one is a current key
            return Ingested(staged, replace(plan, total=total, keys=keys, deletes=deleted))
    rows = _stage(source_conn, merge_conn, read, None)
    return Ingested(rows, replace(plan, since=None, total=rows))


def _copy_unchanged_keys(source_conn: Connection, merge_conn: Connection, read: _Read, since: int) -> int:
    """A fresh keys table (the key columns' types follow staging's) loaded with the keys of the
    rows that are not candidates."""
    keys = read.tables.keys
    merge_conn.execute(text(f"DROP TABLE IF EXISTS {keys}"))
    merge_conn.execute(
        text(
            f"CREATE UNLOGGED TABLE {keys} WITH {SCRATCH_OPTIONS} "
            f"AS SELECT {key_list(read.dataset)} FROM {read.tables.staging} WITH NO DATA"
        )
    )
    out, into = _copy_statements(read.source, read.dataset.key_columns, keys, unchanged(since))
    copied = stream_copy(source_conn, out, merge_conn, into)
    # Without statistics the planner misjudges the anti-join that finds the deletes (0.50-0.55 s
    # instead of 0.32-0.37 s at a million keys). What it needs is the row count and that the keys
    # are distinct, which the smallest sample tells: 300 rows, 3 ms, where the default's 30,000
    # took 0.05-0.08 s at a million keys, for the same plan.
    analyze_sampled(merge_conn, keys, 1)
    return copied


def _refuse_duplicate_keys(merge_conn: Connection, dataset: DatasetSpec, table: str) -> None:
    """A producer without a unique index on the key may hold one key twice: a permanent error."""
    duplicate = merge_conn.execute(
        text(f"SELECT 1 FROM {table} GROUP BY {key_list(dataset)} HAVING count(*) > 1 LIMIT 1")
    ).first()
    if duplicate is not None:
        raise SourceSchemaError(f"dataset {dataset.name}: the source has several rows with one primary key")
