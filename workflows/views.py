"""Consumer views: what workspaces read, in one schema per workspace, in the merge database or in
the workspace's own consumer database (filled by logical replication: workflows/delivery.py).

For every (workspace, dataset group, dataset) of a job spec:
- ``<schema>.<group>_<dataset>``: the current rows, model columns only;
- forensic groups also ``<schema>.<group>_<dataset>_history``: every version, with
  ``ds_surf_batch_in`` / ``ds_surf_batch_out`` (NULL while current) and the commit times of those
  batches, ``ds_surf_valid_from`` / ``ds_surf_valid_to`` (NULL while current); and the function
  ``<schema>.<group>_<dataset>_history_as_of(timestamptz)`` returning the table as it was then.
A role per workspace, ``ds_reader_<schema>``, may use the schema and read its views, and nothing
else: views run with their owner's rights, so readers need no access to merge or staging tables.

Each view is reconciled in its own transaction: one failing view is reported, the others are
still brought up to date.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.db import ConfigurationError, consumer_database, error_summary, job_database
from workflows.delivery import DeliveryError, deliveries, prepare_consumer, publish, subscribe
from workflows.pg import Connection, Database, DatabaseError, text
from workflows.spec import DatasetSpec, JobSpec, ViewSpec
from workflows.sqlnames import derived, literal, platform_schema, qualified, quote, reader_role
from workflows.tables import (
    BATCH_IN,
    BATCH_OUT,
    LIVE,
    DatasetTables,
    SchemaEvolutionError,
    bookkeeping,
    dropped_views,
    ensure_dataset_tables,
    ensure_platform_schema,
)


@dataclass(frozen=True)
class ViewResult:
    name: str
    ok: bool
    message: str = ""


def as_of_function(view: ViewSpec) -> str:
    if view.history_view is None:
        raise ValueError(f"view {view.live_view} of a live group has no history view, so no as-of function")
    return derived(view.history_view, "_as_of")


def _replace_view(conn: Connection, name: str, select: str) -> None:
    """CREATE OR REPLACE when the columns only grew at the end; otherwise drop and create."""
    conn.execute(text("SAVEPOINT ds_view"))
    try:
        conn.execute(text(f"CREATE OR REPLACE VIEW {name} AS {select}"))
    except DatabaseError:
        conn.execute(text("ROLLBACK TO SAVEPOINT ds_view"))
        conn.execute(text(f"DROP VIEW IF EXISTS {name}"))  # never CASCADE: a consumer's own view on ours is reported
        conn.execute(text(f"CREATE VIEW {name} AS {select}"))
    conn.execute(text("RELEASE SAVEPOINT ds_view"))


def _columns(dataset: DatasetSpec, alias: str = "m") -> str:
    return ", ".join(f"{alias}.{quote(c.name)}" for c in dataset.columns)


def _reconcile_one(conn: Connection, spec: JobSpec, view: ViewSpec, dataset: DatasetSpec, role: str) -> list[str]:
    tables = DatasetTables.of(spec, dataset)
    schema = quote(view.schema_name)
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    current = f" WHERE m.{quote(BATCH_OUT)} = {LIVE}" if tables.forensic else ""
    live = qualified(view.schema_name, view.live_view)
    _replace_view(conn, live, f"SELECT {_columns(dataset)} FROM {tables.merge} m{current}")
    made = [live]
    if view.history_view and tables.forensic:
        batches = bookkeeping(platform_schema(spec.platform))["batches"]
        stream = literal(spec.stream)
        history = qualified(view.schema_name, view.history_view)
        function = qualified(view.schema_name, as_of_function(view))
        conn.execute(text(f"DROP FUNCTION IF EXISTS {function}(timestamptz)"))  # it depends on the view's row type
        _replace_view(
            conn,
            history,
            (
                f"SELECT {_columns(dataset)}, m.{quote(BATCH_IN)} AS ds_surf_batch_in, "
                f"NULLIF(m.{quote(BATCH_OUT)}, {LIVE}) AS ds_surf_batch_out, "
                "bi.ended_at AS ds_surf_valid_from, bo.ended_at AS ds_surf_valid_to "
                f"FROM {tables.merge} m "
                f"LEFT JOIN {batches} bi ON bi.stream = {stream} AND bi.batch_id = m.{quote(BATCH_IN)} "
                f"LEFT JOIN {batches} bo ON bo.stream = {stream} AND bo.batch_id = m.{quote(BATCH_OUT)}"
            ),
        )
        conn.execute(
            text(
                f"CREATE FUNCTION {function}(at timestamptz) RETURNS SETOF {history} LANGUAGE sql STABLE AS "
                f"$ds$ SELECT * FROM {history} h WHERE h.ds_surf_valid_from <= at AND (h.ds_surf_valid_to IS NULL OR at < h.ds_surf_valid_to) $ds$"
            )
        )
        conn.execute(text(f"GRANT EXECUTE ON FUNCTION {function}(timestamptz) TO {quote(role)}"))
        made.append(history)
    conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {quote(role)}"))
    for name in made:
        conn.execute(text(f"GRANT SELECT ON {name} TO {quote(role)}"))
    return made


def restore_views(conn: Connection, spec: JobSpec) -> None:
    """Bring back, in the caller's transaction, the merge database's views a widening dropped
    (``tables.dropped_views``), so that consumers never miss them."""
    dropped = dropped_views(conn)
    datasets = {d.name: d for d in spec.datasets}
    for view in spec.views:
        names = {(view.schema_name, v) for v in (view.live_view, view.history_view) if v}
        if view.database is None and names & dropped:
            _reconcile_one(conn, spec, view, datasets[view.dataset], reader_role(view.schema_name))
            dropped -= names


def _ensure_role(conn: Connection, role: str) -> None:
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if not exists:
        conn.execute(text(f"CREATE ROLE {quote(role)} NOLOGIN"))


def reconcile_views(spec: JobSpec, merge_url: str | None = None) -> list[ViewResult]:
    """Create or update every view the spec names, in the merge database or in the workspace's own
    consumer database (with the delivery that fills it); one result per view, role and delivery."""
    merge_db = job_database(spec.merge, "merge", merge_url, f"datasurface-views:{spec.stream}")
    consumers: dict[str, Database] = {}
    results: list[ViewResult] = []
    ready = []
    for delivery in deliveries(spec):  # the consumer's copies first: replication carries no DDL
        try:
            consumers[delivery.name] = consumer_database(delivery.database, f"datasurface-views:{spec.stream}")
            with consumers[delivery.name].begin() as consumer:
                prepare_consumer(consumer, spec, delivery)
            ready.append(delivery)
        except (DatabaseError, ConfigurationError, SchemaEvolutionError) as exc:
            results.append(ViewResult(f"delivery to {delivery.label}", False, error_summary(exc)))
    with merge_db.connect() as conn:
        with conn.begin():
            ensure_platform_schema(conn, platform_schema(spec.platform))
            for dataset in spec.datasets:
                ensure_dataset_tables(conn, spec, dataset)
        for delivery in ready:
            try:
                with conn.begin():
                    publish(conn, spec, delivery)
                done = subscribe(merge_db, consumers[delivery.name], delivery)
                results.append(ViewResult(f"delivery to {delivery.label}", True, done))
            except (DatabaseError, DeliveryError) as exc:
                results.append(ViewResult(f"delivery to {delivery.label}", False, error_summary(exc)))
        results += _reconcile_views(conn, spec, [v for v in spec.views if v.database is None], "")
    for delivery in ready:
        with consumers[delivery.name].connect() as consumer:
            results += _reconcile_views(consumer, spec, list(delivery.views), f" in {delivery.label}")
    return results


def _reconcile_views(conn: Connection, spec: JobSpec, views: list[ViewSpec], where: str) -> list[ViewResult]:
    """The reader roles and views of one database, each in its own transaction."""
    results = []
    datasets = {d.name: d for d in spec.datasets}
    for role in sorted({reader_role(v.schema_name) for v in views}):
        try:
            with conn.begin():
                _ensure_role(conn, role)
            results.append(ViewResult(f"role {role}{where}", True))
        except DatabaseError as exc:
            results.append(ViewResult(f"role {role}{where}", False, error_summary(exc)))
    for view in views:
        label = f"{view.schema_name}.{view.live_view}" + (f" (+ {view.history_view})" if view.history_view else "")
        try:
            with conn.begin():
                _reconcile_one(conn, spec, view, datasets[view.dataset], reader_role(view.schema_name))
            results.append(ViewResult(label + where, True))
        except DatabaseError as exc:
            results.append(ViewResult(label + where, False, error_summary(exc)))
    return results
