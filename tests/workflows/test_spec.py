"""The job-spec contract (``workflows/spec.py``): what a job accepts, and the names it derives."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from msgspec.structs import replace

from tests.support.cli import run_cli
from tests.support.merge_stack import mvp_spec
from workflows.spec import ColumnSpec, JobSpec, SpecError, schedule_freshness, shorten, sql_name


@pytest.mark.parametrize(
    "sql_type", ["VARCHAR(20)", "NUMERIC(10,2)", "DOUBLE PRECISION", "TIMESTAMP", "CHAR(3)", "TEXT", "JSONB", "BYTEA"]
)
def test_the_types_the_renderer_produces_are_accepted(sql_type: str) -> None:
    assert msgspec.convert({"name": "c", "sql_type": sql_type, "nullable": True}, ColumnSpec).sql_type == sql_type


@pytest.mark.parametrize(
    "sql_type",
    [
        "TEXT); DROP TABLE customers; --",
        "VARCHAR(20) DEFAULT pg_read_file('/etc/passwd')",
        "text",
        "INT4",
        "VARCHAR(x)",
        "",
    ],
)
def test_any_other_type_is_refused_before_it_reaches_ddl(sql_type: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.sql_type"):
        msgspec.convert({"name": "c", "sql_type": sql_type, "nullable": True}, ColumnSpec)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda s: s.update(extra=1), "unknown field `extra`"),
        (lambda s: s.update(spec_version=2), "$.spec_version"),
        (lambda s: s.update(strategy="scd9"), "$.strategy"),
        (lambda s: s["merge_settings"].update(parallel=0), "$.merge_settings.parallel"),
        (lambda s: s["merge_settings"].update(work_mem="1TB"), "$.merge_settings.work_mem"),
        (lambda s: s["merge"].update(port="5432"), "$.merge.port"),
        (lambda s: s["datasets"][0]["columns"][0].pop("nullable"), "$.datasets[0].columns[0]"),
        (lambda s: s.update(freshness_seconds=0), "$.freshness_seconds"),
    ],
)
def test_a_spec_that_breaks_the_contract_is_refused_naming_where(change: Callable[[Any], object], where: str) -> None:
    spec = json.loads(mvp_spec("YellowLive").to_json())
    change(spec)
    with pytest.raises(SpecError) as refused:
        JobSpec.from_json(json.dumps(spec))
    assert where in str(refused.value)


def test_a_spec_that_is_not_json_is_refused_as_such() -> None:
    with pytest.raises(SpecError, match="not JSON: Input data was truncated"):
        JobSpec.from_json(b'{"spec_version": 1,')


def test_a_job_given_a_spec_with_an_injected_type_stops_with_a_permanent_error(tmp_path: Path) -> None:
    spec = json.loads(mvp_spec("YellowLive").to_json())
    spec["datasets"][0]["columns"][1]["sql_type"] = "TEXT); DROP TABLE x; --"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    result = run_cli("job", "snapshot-merge", "--spec", str(path), "--merge-url", "postgresql://nobody@127.0.0.1:9/x")
    assert result.returncode == 1 and "cannot use job spec" in result.stderr and "sql_type" in result.stderr


def test_names_are_shortened_with_a_digest_of_the_whole_name() -> None:
    assert sql_name("LiveDSG", "customers") == "livedsg_customers"
    long = sql_name("g" * 40, "d" * 40, "history")
    assert len(long) == 63 and long != sql_name("g" * 40, "d" * 40, "history2")
    assert shorten("a" * 70, 63, "-").startswith("a" * 52 + "-") and len(shorten("a" * 70, 63, "-")) == 63


def test_a_spec_round_trips_through_its_file_format() -> None:
    spec = mvp_spec("YellowForensic")
    assert JobSpec.from_json(spec.to_json()) == spec


def test_a_schedule_keeps_a_stream_no_fresher_than_two_intervals_and_a_minute() -> None:
    assert schedule_freshness("*/1 * * * *") == 180
    assert schedule_freshness("*/10 * * * *") == 1260
    assert schedule_freshness("0 * * * *") == 2 * 3600 + 60


def test_the_freshness_target_is_the_specs_or_else_the_schedules() -> None:
    spec = mvp_spec("YellowLive")
    assert spec.freshness_seconds == spec.freshness_target == 900
    assert replace(spec, freshness_seconds=None).freshness_target == 180
