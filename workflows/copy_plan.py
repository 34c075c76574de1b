"""How ingestion splits a stream's tables over its connections.

Every table is one piece of work, unless it is larger than its share (the stream's size over
the number of connections): then it is cut into block ranges (``ctid``), each about one share.
Block ranges rather than key ranges: they need no index and no scan to find boundaries, cut a
table into equal parts whatever its keys look like, and PostgreSQL reads each with a TID range
scan. Every connection reads the same exported snapshot, so the ranges partition exactly the
rows of that snapshot: a row version lives in one block, and rows written after the snapshot
are invisible to every range. The largest pieces go first.

A table read for its change-capture candidates only (workflows/change_capture.py) returns few
rows: its cost is the producer's scan, about 0.09 s for 126 MiB here, against 3-4 ms per
connection opened and their contention for the same cores. Split in two it took 0.11-0.22 s
(1,000,000 rows, 2 cores), so such a table is split only past ``MIN_SCAN_SPLIT_BLOCKS``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from workflows.source_tables import SourceTable

#: Tables smaller than this are never split: a connection costs more than it saves.
MIN_SPLIT_BLOCKS = 1024  # 8 MiB of 8 KiB pages
#: The same for a table read for its candidates only: parts must be scans worth a connection.
MIN_SCAN_SPLIT_BLOCKS = 32768  # 256 MiB


@dataclass(frozen=True)
class Chunk:
    dataset: str
    where: str | None = None  # a ctid range; None: the whole table
    blocks: int | None = None  # its size, for ordering; None: unknown (a view)


def _ranges(dataset: str, blocks: int, parts: int) -> list[Chunk]:
    bounds = [blocks * i // parts for i in range(parts + 1)]
    chunks = []
    for i in range(parts):
        low = f"ctid >= '({bounds[i]},0)'::tid" if i > 0 else None
        high = (
            f"ctid < '({bounds[i + 1]},0)'::tid" if i < parts - 1 else None
        )  # the last range is open: the table may grow
        where = " AND ".join(part for part in (low, high) if part)
        chunks.append(Chunk(dataset, where, bounds[i + 1] - bounds[i]))
    return chunks


def plan_chunks(tables: dict[str, SourceTable], connections: int, candidates: Collection[str] = ()) -> list[Chunk]:
    """The pieces of work for ``connections`` connections, largest (or of unknown size) first;
    ``candidates``: the tables read for their change-capture candidates only."""
    total = sum(t.blocks or 0 for t in tables.values())
    share = total / max(connections, 1)
    chunks: list[Chunk] = []
    for name, table in tables.items():
        least = MIN_SCAN_SPLIT_BLOCKS if name in candidates else MIN_SPLIT_BLOCKS
        parts = 1 if table.blocks is None else min(connections, max(1, round(table.blocks / max(share, least))))
        chunks.extend(_ranges(name, table.blocks or 0, parts) if parts > 1 else [Chunk(name, None, table.blocks)])
    return sorted(chunks, key=lambda c: float("-inf") if c.blocks is None else -c.blocks)
