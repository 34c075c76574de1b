"""How ingestion splits a stream's tables over its connections."""

from __future__ import annotations

from workflows.copy_plan import MIN_SCAN_SPLIT_BLOCKS, MIN_SPLIT_BLOCKS, plan_chunks
from workflows.source_tables import SourceTable


def table(blocks: int | None) -> SourceTable:
    return SourceTable("public", "t", {}, {}, True, True, blocks)


def test_a_table_larger_than_its_share_is_cut_into_block_ranges_that_cover_it_exactly() -> None:
    chunks = plan_chunks({"big": table(30_000), "small": table(10)}, 3)
    big = [c for c in chunks if c.dataset == "big"]
    assert [c.where for c in big] == [
        "ctid < '(10000,0)'::tid",
        "ctid >= '(10000,0)'::tid AND ctid < '(20000,0)'::tid",
        "ctid >= '(20000,0)'::tid",  # open: rows of the snapshot never lie past the table's end, new ones are invisible
    ]
    assert [c.dataset for c in chunks][-1] == "small"  # largest first


def test_small_tables_views_and_one_connection_are_never_split() -> None:
    assert [c.where for c in plan_chunks({"a": table(MIN_SPLIT_BLOCKS - 1)}, 4)] == [None]
    assert [c.where for c in plan_chunks({"a": table(50_000)}, 1)] == [None]
    chunks = plan_chunks({"v": table(None), "a": table(5_000), "b": table(5_000)}, 2)
    assert (chunks[0].dataset, chunks[0].where) == ("v", None)  # unknown size goes first
    assert all(c.where is None for c in chunks)  # each table about one share: no cuts


def test_a_table_read_for_its_candidates_only_is_split_only_when_its_scan_is_worth_a_connection() -> None:
    tables = {"a": table(MIN_SCAN_SPLIT_BLOCKS // 2), "b": table(10)}
    assert len([c for c in plan_chunks(tables, 2) if c.dataset == "a"]) == 2  # every row read: split
    assert [c.where for c in plan_chunks(tables, 2, candidates={"a"}) if c.dataset == "a"] == [None]
    big = plan_chunks({"a": table(4 * MIN_SCAN_SPLIT_BLOCKS)}, 2, candidates={"a"})
    assert len(big) == 2
