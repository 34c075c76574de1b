"""Property: any sequence of inserts, updates and deletes, merged batch by batch, gives live and
forensic tables equal to an in-memory model of the semantics."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from tests.support.merge_stack import PAIRS_DDL, Stack, pairs_spec
from tests.support.pg import PostgresServer
from workflows.snapshot_merge import run_snapshot_merge

KEYS = [("1", "23"), ("12", "3"), ("a", ""), ("", "a"), ("x", "y")]
VALUES = st.one_of(st.none(), st.sampled_from(["", "v", "w", "1", "12"]))
# One batch: for some keys, the value the row should have (None: delete the row; absent: unchanged).
BATCH = st.dictionaries(st.sampled_from(KEYS), st.one_of(st.just("DELETE"), VALUES), max_size=4)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(BATCH, min_size=1, max_size=5))
def test_random_changes_match_the_model(postgres: PostgresServer, tmp_path_factory, batches) -> None:  # type: ignore[no-untyped-def]
    stack = Stack(postgres, tmp_path_factory.mktemp("prop"))
    stack.src(PAIRS_DDL)
    live_spec, forensic_spec = pairs_spec("live"), replace(pairs_spec("forensic"), platform="Q")
    source: dict[tuple[str, str], str | None] = {}
    history: list[dict[tuple[str, str], str | None]] = []
    for changes in batches:
        for key, value in changes.items():
            if value == "DELETE":
                stack.src("DELETE FROM pairs WHERE a = %s AND b = %s", key)
                source.pop(key, None)
            elif key in source:
                stack.src("UPDATE pairs SET v = %s WHERE a = %s AND b = %s", (value, *key))
                source[key] = value
            else:
                stack.src("INSERT INTO pairs (a, b, v) VALUES (%s, %s, %s)", (*key, value))
                source[key] = value
        previous = history[-1] if history else {}
        history.append(dict(source))
        for spec in (live_spec, forensic_spec):
            outcome = run_snapshot_merge(spec, stack.source_url, stack.merge_url)
            assert outcome.outcome == "done", outcome.error
            expected = {
                "inserted": sum(1 for k in source if k not in previous),
                "updated": sum(1 for k in source if k in previous and previous[k] != source[k]),
                "deleted": sum(1 for k in previous if k not in source),
                "total": len(source),
            }
            assert outcome.datasets["pairs"] == expected
    model = sorted((a, b, v) for (a, b), v in source.items())
    assert stack.live_rows(live_spec, "pairs", ["a", "b", "v"]) == model
    for batch, snapshot in enumerate(history, start=1):
        assert stack.as_of(forensic_spec, "pairs", ["a", "b", "v"], batch) == sorted(
            (a, b, v) for (a, b), v in snapshot.items()
        )
