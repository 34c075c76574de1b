"""The structural diff of two models: one change per added, removed or modified object, keyed by
its model path, with the scope that owns it."""

from __future__ import annotations

from collections.abc import Callable

from handler.diff import ChangeKind, ModelChange, diff_models
from handler.model import (
    DataLatency,
    Dataset,
    DatasetSink,
    DDLColumn,
    DDLTable,
    Ecosystem,
    GitHubRepository,
    GovernanceZoneDeclaration,
    NullableStatus,
    PrimaryKeyStatus,
    VarChar,
)
from handler.model.ecosystem import from_canonical_json
from tests.support.template import build_template_ecosystem

STORE = "zone:USA/team:team1/store:Store1"
WORKSPACE = "zone:USA/team:team1/workspace:Consumer1"


def changed(change: Callable[[Ecosystem], None]) -> list[ModelChange]:
    base = build_template_ecosystem()
    head = from_canonical_json(base.to_canonical_json())
    change(head)
    return diff_models(base, head)


def summary(changes: list[ModelChange]) -> list[tuple[str, str, str, str]]:
    return [(c.path, c.kind.value, c.object_type, c.scope) for c in changes]


def store(eco: Ecosystem):  # type: ignore[no-untyped-def]
    return eco.zones[0].teams[0].datastores[0]


def test_equal_models_have_no_changes() -> None:
    assert diff_models(build_template_ecosystem(), build_template_ecosystem()) == []


def test_an_initial_check_in_adds_everything_as_top_level_objects() -> None:
    changes = summary(diff_models(None, build_template_ecosystem()))
    assert ("ecosystem", "added", "ecosystem", "ecosystem") in changes
    assert ("zone-declaration:USA", "added", "zone-declaration", "ecosystem") in changes
    assert ("platform:YellowLive", "added", "platform", "ecosystem") in changes
    assert ("zone:USA", "added", "zone", "zone:USA") in changes
    assert ("zone:USA/team:team1", "added", "team", "zone:USA/team:team1") in changes
    # a new team's datastores come with the team: no separate change per store or column
    assert not any(path.startswith(f"{STORE}/") for path, *_ in changes)


def test_a_new_column_is_one_change_owned_by_the_team() -> None:
    def add(eco: Ecosystem) -> None:
        store(eco).getDataset("customers").schema.columns.append(DDLColumn("nickname", VarChar(40)))

    (change,) = changed(add)
    assert (change.path, change.kind, change.object_type, change.scope) == (
        f"{STORE}/dataset:customers/column:nickname",
        ChangeKind.ADDED,
        "column",
        "zone:USA/team:team1",
    )
    assert change.before is None and change.after.name == "nickname"


def test_a_changed_column_carries_both_versions() -> None:
    def widen(eco: Ecosystem) -> None:
        column = store(eco).getDataset("customers").schema.getColumnByName("email")
        column.type = VarChar(200)

    (change,) = changed(widen)
    assert change.kind == ChangeKind.MODIFIED and change.path.endswith("/column:email")
    assert (change.before.type.maxSize, change.after.type.maxSize) == (100, 200)


def test_a_removed_dataset_is_one_change_not_one_per_column() -> None:
    def remove(eco: Ecosystem) -> None:
        store(eco).datasets = [d for d in store(eco).datasets if d.name != "addresses"]

    assert summary(changed(remove)) == [(f"{STORE}/dataset:addresses", "removed", "dataset", "zone:USA/team:team1")]


def test_a_new_dataset_and_a_new_sink_are_separate_changes() -> None:
    def add(eco: Ecosystem) -> None:
        columns = [DDLColumn("id", VarChar(20), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK)]
        store(eco).add(Dataset("orders", DDLTable(columns)))
        eco.zones[0].teams[0].workspaces[0].getDSG("LiveDSG").sinks.append(DatasetSink("Store1", "orders"))

    assert summary(changed(add)) == [
        (f"{STORE}/dataset:orders", "added", "dataset", "zone:USA/team:team1"),
        (f"{WORKSPACE}/dsg:LiveDSG/sink:Store1.orders", "added", "sink", "zone:USA/team:team1"),
    ]


def test_an_objects_own_change_is_reported_apart_from_its_childrens() -> None:
    def change_group(eco: Ecosystem) -> None:
        group = eco.zones[0].teams[0].workspaces[0].getDSG("LiveDSG")
        group.platform_chooser.hist.latency = DataLatency.HOURS
        group.sinks = [s for s in group.sinks if s.datasetName != "addresses"]

    assert summary(changed(change_group)) == [
        (f"{WORKSPACE}/dsg:LiveDSG", "modified", "dsg", "zone:USA/team:team1"),
        (f"{WORKSPACE}/dsg:LiveDSG/sink:Store1.addresses", "removed", "sink", "zone:USA/team:team1"),
    ]


def test_ecosystem_level_objects_belong_to_the_ecosystem_scope() -> None:
    def declare(eco: Ecosystem) -> None:
        eco.governance_zone_declarations.append(GovernanceZoneDeclaration("EU", GitHubRepository("acme/eu", "main")))
        eco.data_platforms[0].schedule.cron = "*/5 * * * *"

    assert summary(changed(declare)) == [
        ("zone-declaration:EU", "added", "zone-declaration", "ecosystem"),
        ("platform:YellowForensic", "modified", "platform", "ecosystem"),
    ]


def test_an_empty_zone_definition_counts_as_absent() -> None:
    """``getZoneOrThrow`` creates an empty definition on first use; it is not a change by itself."""

    def touch(eco: Ecosystem) -> None:
        eco.governance_zone_declarations.append(GovernanceZoneDeclaration("EU", GitHubRepository("acme/eu", "main")))
        eco.getZoneOrThrow("EU")

    assert [c.path for c in changed(touch)] == ["zone-declaration:EU"]


def test_a_duplicate_name_does_not_break_the_diff() -> None:
    def duplicate(eco: Ecosystem) -> None:
        store(eco).datasets.append(store(eco).datasets[0])

    assert changed(duplicate) == []  # the first of each name is compared; lint reports the duplicate
