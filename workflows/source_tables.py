"""The producer's side of a dataset: which table and columns, their types, their size.

Names are matched exactly, else by a unique case-insensitive match (producers often create
unquoted, lower-case names). The column types decide the copy format: binary when every
column's type is exactly the staging table's (the model's), text otherwise, since only text
converts between types (and refuses what the model's type cannot hold).
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.pg import Connection, text
from workflows.spec import DatasetSpec
from workflows.sqlnames import qualified


class SourceSchemaError(Exception):
    """The producer's table does not match the model: permanent."""


@dataclass(frozen=True)
class SourceTable:
    schema: str
    table: str
    columns: dict[str, str]  # model column -> source column
    types: dict[str, str]  # model column -> the source column's type
    unique_key: bool  # a unique index covers exactly the model's key columns
    binary: bool  # every column's type is the model's: COPY in binary
    blocks: int | None  # pages of a plain table (splittable by block range); None for views and partitioned tables

    @property
    def qualified(self) -> str:
        return qualified(self.schema, self.table)


def _match(wanted: str, available: list[str], what: str, where: str) -> str:
    if wanted in available:
        return wanted
    folded = [a for a in available if a.lower() == wanted.lower()]
    if len(folded) == 1:
        return folded[0]
    if not folded:
        raise SourceSchemaError(f"{where}: no {what} {wanted!r} (found: {', '.join(sorted(available)) or 'none'})")
    raise SourceSchemaError(f"{where}: {what} {wanted!r} matches {', '.join(sorted(folded))} ignoring case; rename one")


_COLUMN_TYPES = (
    "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a "
    "WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 AND NOT a.attisdropped"
)


# Tables, partitioned tables and views; pg_class rather than information_schema.tables, whose
# view took 3-8 ms of every batch. A table the role may not read is found, and its COPY then
# says "permission denied", which is what to fix.
_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = :s AND c.relkind IN ('r', 'p', 'v')"
)


def resolve_source_table(
    conn: Connection, merge_conn: Connection, dataset: DatasetSpec, staging: str, source_database: str
) -> SourceTable:
    """Find the dataset's table and columns in the source (``conn``), and compare their types
    with those of its staging table in the merge database (``merge_conn``)."""
    schema_name, _, table_name = dataset.source_table.rpartition(".")
    schema_name = schema_name or "public"
    where = f"dataset {dataset.name} in database {source_database}"
    tables = [r.relname for r in conn.execute(text(_TABLES), {"s": schema_name})]
    table = _match(table_name, tables, "table", f"{where}, schema {schema_name}")
    source_types = {r.name: r.type for r in conn.execute(text(_COLUMN_TYPES), {"t": qualified(schema_name, table)})}
    columns = {
        c.name: _match(c.name, list(source_types), "column", f"{where}, table {schema_name}.{table}")
        for c in dataset.columns
    }
    key_columns = sorted(columns[c.name] for c in dataset.key_columns)
    unique = conn.execute(
        text(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relname = :t AND i.indisunique AND i.indpred IS NULL AND "
            "(SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = CAST(:k AS text[])"
        ),
        {"s": schema_name, "t": table, "k": key_columns},
    ).first()
    blocks = conn.execute(
        text(
            "SELECT CASE WHEN relkind = 'r' THEN pg_relation_size(oid) / current_setting('block_size')::int END "
            "FROM pg_class WHERE oid = to_regclass(:t)"
        ),
        {"t": qualified(schema_name, table)},
    ).scalar()
    staging_types = {r.name: r.type for r in merge_conn.execute(text(_COLUMN_TYPES), {"t": staging})}
    binary = all(source_types[columns[c.name]] == staging_types.get(c.name) for c in dataset.columns)
    return SourceTable(
        schema_name,
        table,
        columns,
        {c.name: source_types[columns[c.name]] for c in dataset.columns},
        unique is not None,
        binary,
        None if blocks is None else int(blocks),
    )
