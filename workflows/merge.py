"""Merging a dataset's staging snapshot into its merge table, live (SCD1) or forensic (SCD2).

One pass classifies keys: a full join of staging against the current rows on the key hash
finds inserted (only in staging), deleted (only current) and updated (row hash differs) keys.
Only those few keys are then touched, so the cost of a batch follows the change. Counts come
from that classification: exact by construction.

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
from workflows.tables import BATCH_IN, BATCH_OUT, KEY_HASH, LIVE, ROW_HASH, DatasetTables

_DELTA = "ds_surf_delta"


def merge_dataset(conn: Connection, tables: DatasetTables, dataset: DatasetSpec, batch_id: int) -> dict[str, int]:
    """Merge staging into the merge table inside the caller's transaction; returns the metrics."""
    k, h = quote(KEY_HASH), quote(ROW_HASH)
    current = f"(SELECT {k}, {h} FROM {tables.merge} WHERE {quote(BATCH_OUT)} = {LIVE})" if tables.forensic else tables.merge
    conn.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_DELTA}"))
    conn.execute(text(
        f"CREATE TEMP TABLE {_DELTA} ON COMMIT DROP AS "
        f"SELECT coalesce(s.{k}, m.{k}) AS k, "
        f"CASE WHEN m.{k} IS NULL THEN 'I' WHEN s.{k} IS NULL THEN 'D' ELSE 'U' END AS op "
        f"FROM {tables.staging} s FULL JOIN {current} m ON s.{k} = m.{k} "
        f"WHERE m.{k} IS NULL OR s.{k} IS NULL OR s.{h} <> m.{h}"
    ))
    counts = dict(conn.execute(text(f"SELECT op, count(*) FROM {_DELTA} GROUP BY op")).all())
    columns = [quote(c.name) for c in dataset.columns]
    if tables.forensic:
        _apply_forensic(conn, tables, columns, batch_id)
    else:
        _apply_live(conn, tables, columns, batch_id)
    total = conn.execute(text(f"SELECT count(*) FROM {tables.staging}")).scalar_one()
    return {"inserted": counts.get("I", 0), "updated": counts.get("U", 0), "deleted": counts.get("D", 0), "total": total}


def _apply_live(conn: Connection, tables: DatasetTables, columns: list[str], batch_id: int) -> None:
    k, h, b_in = quote(KEY_HASH), quote(ROW_HASH), quote(BATCH_IN)
    conn.execute(text(f"DELETE FROM {tables.merge} m USING {_DELTA} d WHERE d.op = 'D' AND m.{k} = d.k"))
    assignments = ", ".join(f"{c} = s.{c}" for c in columns)
    conn.execute(
        text(
            f"UPDATE {tables.merge} m SET {assignments}, {h} = s.{h}, {b_in} = :b "
            f"FROM {_DELTA} d JOIN {tables.staging} s ON s.{k} = d.k WHERE d.op = 'U' AND m.{k} = d.k"
        ),
        {"b": batch_id},
    )
    names = ", ".join(columns)
    conn.execute(
        text(
            f"INSERT INTO {tables.merge} ({names}, {k}, {h}, {b_in}) "
            f"SELECT {', '.join('s.' + c for c in columns)}, s.{k}, s.{h}, :b "
            f"FROM {_DELTA} d JOIN {tables.staging} s ON s.{k} = d.k WHERE d.op = 'I'"
        ),
        {"b": batch_id},
    )


def _apply_forensic(conn: Connection, tables: DatasetTables, columns: list[str], batch_id: int) -> None:
    k, h, b_in, b_out = quote(KEY_HASH), quote(ROW_HASH), quote(BATCH_IN), quote(BATCH_OUT)
    conn.execute(
        text(
            f"UPDATE {tables.merge} m SET {b_out} = :b FROM {_DELTA} d "
            f"WHERE d.op IN ('U', 'D') AND m.{k} = d.k AND m.{b_out} = {LIVE}"
        ),
        {"b": batch_id},
    )
    names = ", ".join(columns)
    conn.execute(
        text(
            f"INSERT INTO {tables.merge} ({names}, {k}, {h}, {b_in}, {b_out}) "
            f"SELECT {', '.join('s.' + c for c in columns)}, s.{k}, s.{h}, :b, {LIVE} "
            f"FROM {_DELTA} d JOIN {tables.staging} s ON s.{k} = d.k WHERE d.op IN ('I', 'U')"
        ),
        {"b": batch_id},
    )
