"""Snapshot-merge benchmark: live and forensic batches against a COPY floor.

A customers-like table (default 1,000,000 rows) in a producer database; each batch changes
``--churn`` percent of the rows (updates, plus a few deletes and inserts). Prints for live and
forensic the time of a batch and its ratio to the floor measured in the same run: COPY of the
same rows from the producer to a plain table in the merge database, through the same client
pipe the job uses. Then runs ``--batches`` forensic batches and compares the last with batch 2
(cost should follow the change, not the history). Peak memory is that of a job process
(``datasurface job snapshot-merge``) running one batch.

    python bench/merge_bench.py [--rows N] [--churn PCT] [--batches N] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from pgtools.urls import psycopg2_url  # noqa: E402
from workflows.ingest import stream_copy  # noqa: E402
from workflows.snapshot_merge import run_snapshot_merge  # noqa: E402
from workflows.spec import ColumnSpec, DatabaseSpec, DatasetSpec, JobSpec  # noqa: E402

COLUMNS = [
    ("id", "BIGINT", False, 0),
    ("first_name", "VARCHAR(100)", False, None),
    ("last_name", "VARCHAR(100)", False, None),
    ("dob", "DATE", False, None),
    ("email", "VARCHAR(100)", True, None),
    ("phone", "VARCHAR(40)", True, None),
    ("balance", "NUMERIC(12,2)", True, None),
    ("updated_at", "TIMESTAMP", True, None),
]
DDL = (
    "CREATE TABLE customers (id bigint PRIMARY KEY, first_name varchar(100) NOT NULL, last_name varchar(100) NOT NULL, "
    "dob date NOT NULL, email varchar(100), phone varchar(40), balance numeric(12,2), updated_at timestamp)"
)
FILL = (
    "INSERT INTO customers SELECT g, 'First' || g, 'Last' || (g % 9973), DATE '1950-01-01' + (g % 20000), "
    "'user' || g || '@example.com', '+1-555-' || lpad((g % 10000000)::text, 7, '0'), (g % 100000) / 100.0, "
    "TIMESTAMP '2020-01-01' + g * INTERVAL '1 second' FROM generate_series(1, {rows}) g"
)


def spec(strategy: str) -> JobSpec:
    db = DatabaseSpec(host="unused", port=5432, database="unused", credential="unused")
    columns = [ColumnSpec(name=n, sql_type=t, nullable=nl, key_position=k) for n, t, nl, k in COLUMNS]
    return JobSpec(
        platform=f"Bench{strategy.title()}",
        strategy=strategy,
        stream="Customers",
        store="Customers",
        datasets=[DatasetSpec(name="customers", source_table="customers", columns=columns)],
        source=db,
        merge=db,
        namespace="bench",
        schedule="* * * * *",
    )


def admin(url: str, database: str, sql: str) -> None:
    engine = create_engine(psycopg2_url(url).set(database=database), isolation_level="AUTOCOMMIT")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute(sql)  # no parameters: '%' in the SQL is an operator
    finally:
        raw.close()
        engine.dispose()


def churn(url: str, pct: float, round_: int, rows: int) -> None:
    """Update pct% of rows; delete and insert a few (a tenth of the changes each)."""
    step = max(1, int(100 / pct))
    admin(
        url,
        "bench_source",
        f"UPDATE customers SET email = 'r{round_}-' || id || '@example.com', updated_at = now() WHERE (id + {round_}) % {step} = 0",
    )
    admin(url, "bench_source", f"DELETE FROM customers WHERE (id + {round_} * 7) % {step * 10} = 1")
    admin(
        url,
        "bench_source",
        f"INSERT INTO customers SELECT g, 'New' || g, 'Row', DATE '2000-01-01', NULL, NULL, NULL, NULL "
        f"FROM generate_series({rows + round_ * 100000 + 1}, {rows + round_ * 100000 + rows // (step * 10)}) g",
    )


def floor_seconds(url: str) -> float:
    source = create_engine(psycopg2_url(url).set(database="bench_source"))
    merge = create_engine(psycopg2_url(url).set(database="bench_merge"))
    with merge.connect() as conn:
        conn.execute(text("DROP TABLE IF EXISTS floor_copy"))
        conn.execute(text(DDL.replace("customers", "floor_copy")))
        conn.commit()
        started = time.perf_counter()
        with source.connect() as src:
            stream_copy(src, "SELECT * FROM customers", conn, "COPY floor_copy FROM STDIN")
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute(text("DROP TABLE floor_copy"))
        conn.commit()
    source.dispose()
    merge.dispose()
    return elapsed


def batch_seconds(job: JobSpec, url: str) -> float:
    started = time.perf_counter()
    outcome = run_snapshot_merge(
        job,
        str(psycopg2_url(url).set(database="bench_source").render_as_string(False)),
        str(psycopg2_url(url).set(database="bench_merge").render_as_string(False)),
    )
    if outcome.outcome != "done":
        raise SystemExit(f"batch failed: {outcome.error}")
    return time.perf_counter() - started


def peak_memory_mb(job: JobSpec, url: str, folder: Path) -> float:
    path = folder / "spec.json"
    path.write_text(job.to_json())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "handler.cli",
            "job",
            "snapshot-merge",
            "--spec",
            str(path),
            "--source-url",
            psycopg2_url(url).set(database="bench_source").render_as_string(False).replace("+psycopg2", ""),
            "--merge-url",
            psycopg2_url(url).set(database="bench_merge").render_as_string(False).replace("+psycopg2", ""),
        ],
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit("job process failed")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--churn", type=float, default=1.0, help="percent of rows changed per batch")
    parser.add_argument("--batches", type=int, default=50, help="forensic batches for the history check")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("DATASURFACE_BENCH_PG_URL"),
        help="server to use (default: the embedded PostgreSQL)",
    )
    args = parser.parse_args()
    server = None
    url = args.pg_url
    if not url:
        from pgtools.embedded import start_embedded

        server = start_embedded(Path(tempfile.mkdtemp(prefix="datasurface-bench-pg-")), cleanup_mode="delete")
        url = server.get_uri()
    try:
        for db in ("bench_source", "bench_merge"):
            admin(url, "postgres", f'DROP DATABASE IF EXISTS "{db}"')
            admin(url, "postgres", f'CREATE DATABASE "{db}"')
        admin(url, "bench_source", DDL)
        admin(url, "bench_source", FILL.format(rows=args.rows))
        admin(url, "bench_source", "VACUUM ANALYZE customers")
        print(f"{args.rows:,} rows, {args.churn}% churn per batch")
        floor = min(floor_seconds(url) for _ in range(2))
        print(f"floor: COPY producer -> merge database {floor:.2f} s")
        live, forensic = spec("live"), spec("forensic")
        for job in (live, forensic):
            first = batch_seconds(job, url)
            print(f"{job.strategy:>9} batch 1 (initial load)  {first:7.2f} s  {first / floor:5.2f}x floor")
        churn(url, args.churn, 1, args.rows)
        live_2 = batch_seconds(live, url)
        forensic_2 = batch_seconds(forensic, url)
        print(
            f"{'live':>9} batch 2 ({args.churn}% changed)  {live_2:7.2f} s  {live_2 / floor:5.2f}x floor (target <= 2x)"
        )
        print(
            f"{'forensic':>9} batch 2 ({args.churn}% changed)  {forensic_2:7.2f} s  {forensic_2 / floor:5.2f}x floor (target <= 3x)"
        )
        last = forensic_2
        for round_ in range(2, args.batches):
            churn(url, args.churn, round_, args.rows)
            last = batch_seconds(forensic, url)
        print(f" forensic batch {args.batches}: {last:.2f} s, {last / forensic_2:.2f}x batch 2 (target <= 1.3x)")
        churn(url, args.churn, args.batches, args.rows)
        with tempfile.TemporaryDirectory() as tmp:
            print(f"peak memory of a job process (live batch): {peak_memory_mb(live, url, Path(tmp)):.0f} MiB")
        used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(this benchmark process: {used:.0f} MiB)")
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
