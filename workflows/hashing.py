"""Row and key hashes, computed by PostgreSQL while it reads the producer's table.

A hash covers a canonical text of each non-NULL column, tagged with the column's name and
the text's length: ``name=LEN:TEXT``. So NULL (no term) differs from '' (``c=0:``), ('1','23')
differs from ('12','3'), and a column added later (NULL in existing rows) leaves the hashes of
existing rows unchanged. Canonical texts are explicit formats, not casts that follow session
settings (time zone, date style, float digits, bytea output); widening a column (Integer to
BigInt, VarChar(20) to VarChar(50), Date to Timestamp, Decimal(10,2) to Decimal(12,4), Real to
Double) does not change them either.
"""

from __future__ import annotations

from workflows.spec import ColumnSpec
from workflows.sqlnames import quote

_TIMESTAMP_FORMAT = "'YYYY-MM-DD HH24:MI:SS.US'"


def literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def canonical_text(expression: str, sql_type: str) -> str:
    """SQL for the canonical text of ``expression`` holding a value of ``sql_type``."""
    base = sql_type.upper().split("(", 1)[0].strip()
    if base in ("SMALLINT", "INTEGER", "BIGINT"):
        return f"({expression})::bigint::text"
    if base == "NUMERIC":
        return f"trim_scale(({expression})::numeric)::text"
    if base in ("REAL", "DOUBLE PRECISION"):
        return f"encode(float8send(({expression})::float8), 'hex')"
    if base in ("DATE", "TIMESTAMP"):
        return f"to_char(({expression})::timestamp, {_TIMESTAMP_FORMAT})"
    if base == "BOOLEAN":
        return f"CASE WHEN ({expression})::boolean THEN 't' ELSE 'f' END"
    if base == "BYTEA":
        return f"encode(({expression})::bytea, 'hex')"
    if base == "JSONB":
        return f"({expression})::jsonb::text"
    return f"({expression})::text"  # CHAR, VARCHAR, TEXT


def hash_expression(columns: list[tuple[str, ColumnSpec]]) -> str:
    """``md5(...)::uuid`` over (SQL expression, column) pairs; NULL columns add nothing."""
    terms = []
    for expression, column in columns:
        text = canonical_text(expression, column.sql_type)
        terms.append(f"{literal(column.name + '=')} || length({text})::text || ':' || {text}")
    return f"md5(concat({', '.join(terms)}))::uuid"


def column_ref(name: str, table_alias: str = "") -> str:
    return f"{table_alias}.{quote(name)}" if table_alias else quote(name)
