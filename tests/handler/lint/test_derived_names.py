"""Names that collide once derived (``handler/lint/derived_names.py``): each collision the
renderer would have made silently is an error naming both objects."""

from __future__ import annotations

from collections.abc import Callable

from handler.findings import Finding
from handler.lint import lint
from handler.model import (
    Dataset,
    DatasetGroup,
    DatasetSink,
    Datastore,
    DDLColumn,
    DDLTable,
    Ecosystem,
    IngestionConsistencyType,
    NullableStatus,
    PrimaryKeyStatus,
    SimpleDC,
    SimpleDCTypes,
    VarChar,
    Workspace,
    YellowDataPlatform,
    YellowMilestoneStrategy,
)
from tests.support.template import build_template_ecosystem

TEAM = "zone:USA/team:team1"


def collisions(change: Callable[[Ecosystem], None]) -> list[Finding]:
    eco = build_template_ecosystem()
    change(eco)
    return [f for f in lint(eco) if f.rule == "name-collision"]


def table(*names: str) -> DDLTable:
    key = DDLColumn("id", VarChar(20), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK)
    return DDLTable([key, *(DDLColumn(n, VarChar(20)) for n in names)])


def dataset(name: str) -> Dataset:
    return Dataset(name, table(), [SimpleDC(SimpleDCTypes.PUB)])


def store_like(eco: Ecosystem, name: str, *datasets: str) -> Datastore:
    template = eco.zones[0].teams[0].datastores[0]
    return Datastore(name, capture_metadata=template.capture_metadata, datasets=[dataset(d) for d in datasets])


def test_the_template_has_no_collision() -> None:
    assert collisions(lambda eco: None) == []


def test_workspaces_differing_in_case_would_share_a_schema_and_its_reader_role() -> None:
    def add(eco: Ecosystem) -> None:
        eco.zones[0].teams[0].workspaces.append(Workspace("CONSUMER1", DatasetGroup("Salaries")))

    (finding,) = collisions(add)
    assert finding.path == f"{TEAM}/workspace:Consumer1"  # the second in order
    assert "schema and reader role 'consumer1'" in finding.message
    assert "'CONSUMER1'" in finding.message and "'Consumer1'" in finding.message


def test_group_and_dataset_names_that_join_into_one_view() -> None:
    def add(eco: Ecosystem) -> None:
        team = eco.zones[0].teams[0]
        team.datastores[0].add(dataset("b_customers"))
        workspace = team.workspaces[0]
        workspace.dsgs.append(
            DatasetGroup("LiveDSG_b", [DatasetSink("Store1", "customers")], workspace.dsgs[0].platform_chooser)
        )
        workspace.getDSG("LiveDSG").sinks.append(DatasetSink("Store1", "b_customers"))

    messages = [f.message for f in collisions(add)]
    assert any("view in schema 'consumer1'" in m and "'livedsg_b_customers'" in m for m in messages), messages


def test_a_dataset_named_like_another_datasets_history_view() -> None:
    def add(eco: Ecosystem) -> None:
        team = eco.zones[0].teams[0]
        team.datastores[0].add(dataset("customers_history"))
        team.workspaces[0].getDSG("ForensicDSG").sinks.append(DatasetSink("Store1", "customers_history"))

    (finding,) = collisions(add)
    assert "'forensicdsg_customers_history'" in finding.message
    assert "(history view)" in finding.message and "(live view)" in finding.message


def test_a_store_and_another_stores_single_dataset_stream_share_a_key() -> None:
    def add(eco: Ecosystem) -> None:
        team = eco.zones[0].teams[0]
        orders = store_like(eco, "Orders", "items")
        assert orders.capture_metadata is not None
        team.datastores.append(orders)
        team.datastores.append(store_like(eco, "Orders_items", "lines"))
        single = eco.zones[0].teams[0].datastores[-2].capture_metadata
        assert single is not None
        import copy

        orders.capture_metadata = copy.deepcopy(single)
        orders.capture_metadata.singleOrMultiDatasetIngestion = IngestionConsistencyType.SINGLE_DATASET

    findings = collisions(add)
    assert any("ingestion stream 'Orders_items'" in f.message for f in findings), findings


def test_platforms_whose_kubernetes_names_are_equal() -> None:
    def add(eco: Ecosystem) -> None:
        live = eco.getDataPlatformOrThrow("YellowLive")
        eco.data_platforms.append(
            YellowDataPlatform(
                "yellowlive",
                YellowMilestoneStrategy.SCD1,
                merge_datacontainer=live.merge_datacontainer,
                postgresCredential=live.postgresCredential,
            )
        )

    findings = collisions(add)
    assert any("Kubernetes name of a platform 'yellowlive'" in f.message for f in findings)
