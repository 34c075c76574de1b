"""The model DSL: constructors as model authors write them, canonical JSON, value equality."""

from __future__ import annotations

import msgspec
import pytest

from handler.model import (
    Credential,
    CredentialType,
    DataPlatformManagedDataContainer,
    DatasetGroup,
    DatasetSink,
    DDLColumn,
    Ecosystem,
    GitHubRepository,
    GovernanceZoneDeclaration,
    HostPortPair,
    LocationKey,
    PostgresDatabase,
    TeamDeclaration,
    VarChar,
    Workspace,
    YellowDataPlatform,
    YellowMilestoneStrategy,
    YellowPlatformServiceProvider,
)
from tests.support.template import build_template_ecosystem


def test_canonical_json_is_byte_identical_on_repeat_and_round_trips(mvp: Ecosystem) -> None:
    first = mvp.to_canonical_json()
    again = build_template_ecosystem().to_canonical_json()
    assert first == again
    decoded = Ecosystem.from_canonical_json(first)
    assert decoded.to_canonical_json() == first
    assert decoded == mvp


def test_canonical_json_sorts_keys_and_named_children_but_keeps_column_order(mvp: Ecosystem) -> None:
    data = msgspec.json.decode(mvp.to_canonical_json())
    assert list(data) == sorted(data)
    store = data["zones"][0]["teams"][0]["datastores"][0]
    assert [d["name"] for d in store["datasets"]] == ["addresses", "customers"]
    customers = store["datasets"][1]["schema"]["columns"]
    assert [c["name"] for c in customers][:3] == ["id", "firstName", "lastName"]


def test_equality_is_by_value_not_by_insertion_order(mvp: Ecosystem) -> None:
    other = build_template_ecosystem()
    store = other.zones[0].teams[0].datastores[0]
    store.datasets.reverse()
    assert other == mvp
    store.datasets[0].schema.columns[1].name = "changed"
    assert other != mvp


def test_column_order_is_part_of_the_value(mvp: Ecosystem) -> None:
    other = build_template_ecosystem()
    other.zones[0].teams[0].datastores[0].datasets[0].schema.columns.reverse()
    assert other != mvp


def test_zone_and_team_definitions_need_declarations() -> None:
    eco = Ecosystem(
        "Eco",
        GitHubRepository("acme/model", "main"),
        governance_zone_declarations=[GovernanceZoneDeclaration("USA", GitHubRepository("acme/model", "usa"))],
    )
    with pytest.raises(LookupError, match=r"declares no governance zone 'EU'.*declared: USA"):
        eco.getZoneOrThrow("EU")
    zone = eco.getZoneOrThrow("USA")
    assert eco.getZoneOrThrow("USA") is zone
    with pytest.raises(LookupError, match="declares no team 'team1'"):
        zone.getTeamOrThrow("team1")
    zone.add(TeamDeclaration("team1", GitHubRepository("acme/model", "team1")))
    assert zone.getTeamOrThrow("team1").name == "team1"


def test_workspace_takes_groups_positionally_as_in_datasurface() -> None:
    ws = Workspace(
        "W", DataPlatformManagedDataContainer("c"), DatasetGroup("A", [DatasetSink("S", "d")]), DatasetGroup("B")
    )
    assert [g.name for g in ws.dsgs] == ["A", "B"]
    assert ws.container is not None and ws.container.name == "c"
    with pytest.raises(TypeError, match="Workspace\\(\\) takes a name"):
        Workspace("W", "not a group")


def test_platform_defaults_and_service_provider_settings() -> None:
    merge = PostgresDatabase(
        "M", hostPort=HostPortPair("h", 5432), databaseName="merge", locations={LocationKey("X:Y")}
    )
    psp = YellowPlatformServiceProvider(
        "P",
        {LocationKey("X:Y")},
        namespace="shared-ns",
        merge_datacontainer=merge,
        postgresCredential=Credential("pg", CredentialType.USER_PASSWORD),
        dataPlatforms=[
            YellowDataPlatform("Live", milestoneStrategy=YellowMilestoneStrategy.LIVE_ONLY),
            YellowDataPlatform("Hist", YellowMilestoneStrategy.BATCH_MILESTONED, namespace="own-ns"),
        ],
    )
    eco = Ecosystem(name="E", repo=GitHubRepository("acme/m", "main"), platform_services_providers=[psp])
    live, hist = eco.getDataPlatformOrThrow("Live"), eco.getDataPlatformOrThrow("Hist")
    assert (
        live.milestoneStrategy is YellowMilestoneStrategy.SCD1
        and hist.milestoneStrategy is YellowMilestoneStrategy.SCD2
    )
    assert live.schedule is not None and live.schedule.cron == "*/1 * * * *"
    assert hist.schedule is not None and hist.schedule.cron == "*/10 * * * *"
    assert (live.namespace, hist.namespace) == ("shared-ns", "own-ns")
    assert live.merge_datacontainer == merge and hist.postgresCredential is not None
    assert Ecosystem.from_canonical_json(eco.to_canonical_json()) == eco


def test_decoding_rejects_wrong_types_and_unknown_fields(mvp: Ecosystem) -> None:
    data = msgspec.json.decode(mvp.to_canonical_json())
    data["zones"][0]["teams"][0]["datastores"][0]["datasets"][0]["schema"]["columns"][0]["type"] = "varchar"
    with pytest.raises(msgspec.ValidationError, match=r"columns\[0\]\.type"):
        Ecosystem.from_canonical_json(msgspec.json.encode(data))
    data = msgspec.json.decode(mvp.to_canonical_json())
    data["secret"] = "x"
    with pytest.raises(msgspec.ValidationError, match="unknown field `secret`"):
        Ecosystem.from_canonical_json(msgspec.json.encode(data))


def test_column_defaults_are_nullable_non_key() -> None:
    column = DDLColumn("note", VarChar(10))
    assert column.is_nullable and not column.is_key
