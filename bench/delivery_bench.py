"""Consumer database delivery benchmark: how far behind the merge database a consumer database is.

Two embedded servers: the producer and merge databases on one, a workspace's consumer database
on the other (as in production, a separate server). A customers-like table (default 100,000
rows) is merged by the live snapshot-merge job and delivered by the platform's logical
replication. Each churn batch changes ``--churn`` percent of the rows; the lag of a batch is the
time from its commit in the merge database until the consumer database has it (its copy of the
batch record arrives in commit order after the rows, so the rows are there too).

Baseline, measured in the same run on the same servers: PostgreSQL's own logical replication of
a plain table, the same number of rows updated in one transaction, timed the same way; it is the
fastest way these servers can carry the same change. Also: the merge batch's wall time with its
tables published and without (does delivery slow merges down?).

    python bench/delivery_bench.py [--rows N] [--churn PCT] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from msgspec.structs import replace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.merge_bench import DDL, FILL, admin, batch_seconds, churn, spec  # noqa: E402
from pgtools.embedded import start_embedded  # noqa: E402
from pgtools.urls import psycopg2_url  # noqa: E402
from workflows.db import CONSUMER_URLS_ENV  # noqa: E402
from workflows.spec import DatabaseSpec, JobSpec, ViewSpec  # noqa: E402
from workflows.sqlnames import platform_schema, qualified  # noqa: E402
from workflows.views import reconcile_views  # noqa: E402

CONSUMER = DatabaseSpec(host="bench-consumer", port=5432, database="bench_consumer", credential="bench-consumer")


def delivered_spec() -> JobSpec:
    job = spec("live", ["customers"])
    view = ViewSpec(
        workspace="Bench", group="G", dataset="customers", schema_name="bench", live_view="customers", database=CONSUMER
    )
    return replace(job, platform="BenchDelivered", views=[view])


class Poller:
    """An open connection to the consumer database, so that polling costs no connection set-up."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(psycopg2_url(url), isolation_level="AUTOCOMMIT")
        self.conn = self.engine.connect()

    def until(self, sql: str, expected: object, timeout: float = 300.0) -> float:
        """Poll until ``sql`` returns ``expected``; the time.time() it did."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.conn.execute(text(sql)).scalar()
            if value == expected:
                return time.time()
            if time.monotonic() > deadline:
                raise SystemExit(f"not delivered after {timeout} s: {sql} -> {value!r}, expected {expected!r}")
            time.sleep(0.002)

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


def merge_commit(merge_url: str, job: JobSpec) -> tuple[int, float]:
    """The stream's last committed batch and when it committed (Unix time)."""
    engine = create_engine(psycopg2_url(merge_url))
    with engine.connect() as conn:
        batch, ended = conn.execute(
            text(
                f"SELECT batch_id, extract(epoch FROM ended_at) FROM {qualified(platform_schema(job.platform), 'batches')} "
                "WHERE stream = :s AND status = 'committed' ORDER BY batch_id DESC LIMIT 1"
            ),
            {"s": job.stream},
        ).one()
    engine.dispose()
    return int(batch), float(ended)


def delivered_batch(job: JobSpec, base: str, merge_url: str, poller: Poller) -> tuple[float, float]:
    """Merge one batch; (its wall time, the lag from the job's return, after its commit, until the
    consumer database has the batch)."""
    seconds = batch_seconds(job, base)
    returned = time.time()
    batch, _ended = merge_commit(merge_url, job)
    batches = qualified(platform_schema(job.platform), "batches")
    seen = poller.until(f"SELECT count(*) FROM {batches} WHERE batch_id = {batch} AND status = 'committed'", 1)
    return seconds, seen - returned


def baseline_lag(merge_url: str, poller: Poller, changed: int, round_: int) -> float:
    """Plain logical replication of ``changed`` updated rows in one transaction."""
    engine = create_engine(psycopg2_url(merge_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE floor_t SET payload = 'r{round_}-' || id WHERE id = 0 OR id IN "
                f"(SELECT id FROM floor_t WHERE id > 0 ORDER BY (id * 7919 + {round_}) % 1000003 LIMIT {changed})"
            )
        )
    committed = time.time()
    engine.dispose()
    return poller.until("SELECT payload FROM floor_t WHERE id = 0", f"r{round_}-0") - committed


def setup_baseline(merge_url: str, consumer_url: str, merge_socket: str, rows: int) -> None:
    table = "CREATE TABLE floor_t (id bigint PRIMARY KEY, payload text)"
    admin(
        merge_url, "bench_merge", f"{table}; INSERT INTO floor_t SELECT g, 'p' || g FROM generate_series(0, {rows}) g"
    )
    admin(merge_url, "bench_merge", "CREATE PUBLICATION floor_pub FOR TABLE floor_t")
    admin(merge_url, "bench_merge", "SELECT pg_create_logical_replication_slot('floor_sub', 'pgoutput')")
    admin(consumer_url, "bench_consumer", table)
    admin(
        consumer_url,
        "bench_consumer",
        f"CREATE SUBSCRIPTION floor_sub CONNECTION 'host={merge_socket} dbname=bench_merge user=postgres' "
        "PUBLICATION floor_pub WITH (create_slot = false, slot_name = 'floor_sub')",
    )


def rounds(
    args: argparse.Namespace, base: str, merge_url: str, consumer_url: str, changed: int
) -> dict[str, list[float]]:
    """Churn batches, merged with and without delivery (alternating which goes first), and their lags."""
    delivered, plain = delivered_spec(), spec("live", ["customers"])
    figures: dict[str, list[float]] = {"ours": [], "floor": [], "with": [], "without": []}
    poller = Poller(consumer_url)
    try:
        for round_ in range(1, args.rounds + 1):
            churn(base, args.churn, round_, args.rows)
            if round_ % 2 == 0:  # alternate which merge goes first
                figures["without"].append(batch_seconds(plain, base))
            seconds, lag = delivered_batch(delivered, base, merge_url, poller)
            figures["with"].append(seconds)
            figures["ours"].append(lag)
            if round_ % 2 == 1:
                figures["without"].append(batch_seconds(plain, base))
            figures["floor"].append(baseline_lag(merge_url, poller, changed, round_))
    finally:
        poller.close()
    return figures


def report(figures: dict[str, list[float]], args: argparse.Namespace, changed: int) -> None:
    median = statistics.median
    ours, floor = figures["ours"], figures["floor"]
    print(f"churn {args.churn}% per batch (~{changed:,} rows changed), {args.rounds} rounds, medians:")
    print(
        f"  lag, merge commit -> consumer database (DataSurface delivery): {median(ours):.3f} s (max {max(ours):.3f})"
    )
    print(
        f"  lag, plain logical replication of {changed:,} updated rows (floor): {median(floor):.3f} s (max {max(floor):.3f})"
    )
    print(f"  ratio to floor: {median(ours) / median(floor):.2f}x")
    print(
        f"  merge batch with its tables published: {median(figures['with']):.2f} s; without: "
        f"{median(figures['without']):.2f} s ({median(figures['with']) / median(figures['without']):.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--churn", type=float, default=1.0, help="percent of rows updated per batch")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    merge_server = start_embedded(Path(tempfile.mkdtemp(prefix="datasurface-bench-merge-")), cleanup_mode="delete")
    consumer_server = start_embedded(
        Path(tempfile.mkdtemp(prefix="datasurface-bench-consumer-")), cleanup_mode="delete", settings={}
    )
    try:
        base, consumer_base = merge_server.get_uri(), consumer_server.get_uri()
        for database in ("bench_source", "bench_merge"):
            admin(base, "postgres", f"CREATE DATABASE {database}")
        admin(consumer_base, "postgres", "CREATE DATABASE bench_consumer")
        admin(base, "bench_source", DDL.format(table="customers"))
        admin(base, "bench_source", FILL.format(table="customers", rows=args.rows))
        merge_url = str(psycopg2_url(base).set(database="bench_merge").render_as_string(False))
        consumer_url = str(psycopg2_url(consumer_base).set(database="bench_consumer").render_as_string(False))
        os.environ[CONSUMER_URLS_ENV] = json.dumps({"bench_consumer": consumer_url})
        delivered, plain = delivered_spec(), spec("live", ["customers"])
        results = reconcile_views(delivered, merge_url)
        failed = [r for r in results if not r.ok]
        if failed:
            raise SystemExit(f"delivery setup failed: {failed}")
        poller = Poller(consumer_url)
        seconds, initial = delivered_batch(delivered, base, merge_url, poller)
        batch_seconds(plain, base)
        print(
            f"{args.rows:,} rows; the initial batch merged in {seconds:.2f} s and was delivered {initial:.2f} s later"
        )
        setup_baseline(base, consumer_base, str(psycopg2_url(base).query["host"]), args.rows)
        poller.until("SELECT count(*) FROM floor_t", args.rows + 1)
        poller.close()
        changed = int(args.rows * args.churn / 100 * 1.2)  # updates plus the deletes and inserts of a churn round
        report(rounds(args, base, merge_url, consumer_url, changed), args, changed)
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        admin(consumer_server.get_uri(), "bench_consumer", "DROP SUBSCRIPTION IF EXISTS floor_sub")
        consumer_server.cleanup()
        merge_server.cleanup()


if __name__ == "__main__":
    main()
