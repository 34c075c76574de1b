"""Each run's outcome, recorded in the merge database for operators (``workflows/status.py``).

A run ends ``done``, ``keep_working`` (more to merge: Argo runs it again at once), ``locked``
(another run held the stream) or ``error``. The record is best effort: when the merge database
cannot take it (it is the database that failed), the run's own outcome stands, and the exporter
reports the database as down instead.
"""

from __future__ import annotations

import sys
from datetime import datetime

from workflows.outcome import Outcome
from workflows.pg import Database, text
from workflows.tables import bookkeeping

#: Runs kept per stream; older ones are deleted as new ones are recorded (counts are kept apart).
KEPT_RUNS = 200
ERROR_MAX = 1000
OUTCOMES = ("done", "keep_working", "locked", "error")


def outcome_label(outcome: Outcome) -> str:
    return "locked" if outcome.locked else outcome.outcome


def record_run(merge_db: Database, schema: str, outcome: Outcome, started: datetime) -> None:
    t = bookkeeping(schema)
    label = outcome_label(outcome)
    try:
        with merge_db.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {t['runs']} (stream, batch_id, outcome, transient, started_at, error) "
                    "VALUES (:s, :b, :o, :tr, :st, :e)"
                ),
                {
                    "s": outcome.stream,
                    "b": outcome.batch,
                    "o": label,
                    "tr": outcome.transient,
                    "st": started,
                    "e": None if outcome.error is None else outcome.error[:ERROR_MAX],
                },
            )
            conn.execute(
                text(
                    f"INSERT INTO {t['run_counts']} (stream, outcome, runs) VALUES (:s, :o, 1) "
                    "ON CONFLICT (stream, outcome) DO UPDATE SET runs = run_counts.runs + 1"
                ),
                {"s": outcome.stream, "o": label},
            )
            conn.execute(
                text(
                    f"DELETE FROM {t['runs']} WHERE stream = :s AND run_id <= "
                    f"(SELECT run_id FROM {t['runs']} WHERE stream = :s ORDER BY run_id DESC OFFSET :keep LIMIT 1)"
                ),
                {"s": outcome.stream, "keep": KEPT_RUNS},
            )
    except Exception as exc:  # noqa: BLE001 - the run's outcome matters more than its record
        print(f"could not record the run's outcome: {type(exc).__name__}: {exc}"[:500], file=sys.stderr)
