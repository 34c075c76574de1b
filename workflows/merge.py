"""Merging a dataset's staging snapshot into its merge table, live (SCD1) or forensic (SCD2).

One pass classifies keys: a full join of staging against the current rows on the key columns
finds inserted (only in staging), deleted (only current) and updated keys (some column
``IS DISTINCT FROM`` its current value). Comparing typed values rather than hashes of their
text means NULL and '' always differ, ('1','23') and ('12','3') are different keys, session
settings (time zone, date style, float digits) cannot matter, and widening a column's type
changes nothing. Only the changed keys are then touched, so the cost of a batch follows the
change. Counts come from that classification: exact by construction.

Live: deleted keys are removed, updated rows overwritten, inserted rows added.
Forensic: the current version of an updated or deleted key is closed (``batch_out`` = this
batch, which moves it to the history partition); updated and inserted keys get a new current
version (``batch_in`` = this batch). A key that comes back after a delete is an insert, so it
gets a new version. A version is the source's row at batch B exactly when
``batch_in <= B < batch_out``.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from workflows.spec import DatasetSpec
from workflows.sqlnames import quote
from workflows.tables import BATCH_IN, BATCH_OUT, LIVE, DatasetTables

_DELTA = "ds_surf_delta"


def _on(keys: list[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in keys)


def merge_dataset(conn: Connection, tables: DatasetTables, dataset: DatasetSpec, batch_id: int) -> dict[str, int]:
    """Merge staging into the merge table inside the caller's transaction; returns the metrics."""
    keys = [quote(c.name) for c in dataset.key_columns]
    values = [quote(c.name) for c in dataset.columns if c.key_position is None]
    columns = [quote(c.name) for c in dataset.columns]
    current = f"(SELECT * FROM {tables.merge} WHERE {quote(BATCH_OUT)} = {LIVE})" if tables.forensic else tables.merge
    first_key = keys[0]
    changed = " OR ".join(f"s.{v} IS DISTINCT FROM m.{v}" for v in values) or "false"
    conn.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_DELTA}"))
    conn.execute(
        text(
            f"CREATE TEMP TABLE {_DELTA} ON COMMIT DROP AS "
            f"SELECT {', '.join(f'coalesce(s.{k}, m.{k}) AS {k}' for k in keys)}, "
            f"CASE WHEN m.{first_key} IS NULL THEN 'I' WHEN s.{first_key} IS NULL THEN 'D' ELSE 'U' END AS ds_surf_op "
            f"FROM {tables.staging} s FULL JOIN {current} m ON {_on(keys, 's', 'm')} "
            f"WHERE m.{first_key} IS NULL OR s.{first_key} IS NULL OR {changed}"
        )
    )
    counts: dict[str, int] = dict(
        conn.execute(text(f"SELECT ds_surf_op, count(*) FROM {_DELTA} GROUP BY ds_surf_op")).all()
    )
    if tables.forensic:
        _apply_forensic(conn, tables, keys, columns, batch_id)
    else:
        _apply_live(conn, tables, keys, values, columns, batch_id)
    total = conn.execute(text(f"SELECT count(*) FROM {tables.staging}")).scalar_one()
    return {
        "inserted": counts.get("I", 0),
        "updated": counts.get("U", 0),
        "deleted": counts.get("D", 0),
        "total": total,
    }


def _apply_live(
    conn: Connection, tables: DatasetTables, keys: list[str], values: list[str], columns: list[str], batch_id: int
) -> None:
    b_in = quote(BATCH_IN)
    conn.execute(
        text(f"DELETE FROM {tables.merge} m USING {_DELTA} d WHERE d.ds_surf_op = 'D' AND {_on(keys, 'm', 'd')}")
    )
    assignments = ", ".join([f"{v} = s.{v}" for v in values] + [f"{b_in} = :b"])
    conn.execute(
        text(
            f"UPDATE {tables.merge} m SET {assignments} FROM {_DELTA} d JOIN {tables.staging} s ON {_on(keys, 's', 'd')} "
            f"WHERE d.ds_surf_op = 'U' AND {_on(keys, 'm', 'd')}"
        ),
        {"b": batch_id},
    )
    conn.execute(
        text(
            f"INSERT INTO {tables.merge} ({', '.join(columns)}, {b_in}) "
            f"SELECT {', '.join('s.' + c for c in columns)}, :b "
            f"FROM {_DELTA} d JOIN {tables.staging} s ON {_on(keys, 's', 'd')} WHERE d.ds_surf_op = 'I'"
        ),
        {"b": batch_id},
    )


def _apply_forensic(
    conn: Connection, tables: DatasetTables, keys: list[str], columns: list[str], batch_id: int
) -> None:
    b_in, b_out = quote(BATCH_IN), quote(BATCH_OUT)
    conn.execute(
        text(
            f"UPDATE {tables.merge} m SET {b_out} = :b FROM {_DELTA} d "
            f"WHERE d.ds_surf_op IN ('U', 'D') AND {_on(keys, 'm', 'd')} AND m.{b_out} = {LIVE}"
        ),
        {"b": batch_id},
    )
    conn.execute(
        text(
            f"INSERT INTO {tables.merge} ({', '.join(columns)}, {b_in}, {b_out}) "
            f"SELECT {', '.join('s.' + c for c in columns)}, :b, {LIVE} "
            f"FROM {_DELTA} d JOIN {tables.staging} s ON {_on(keys, 's', 'd')} WHERE d.ds_surf_op IN ('I', 'U')"
        ),
        {"b": batch_id},
    )
