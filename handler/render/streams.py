"""Which ingestion streams each platform runs, as job specs (pure).

A platform serves the dataset groups assigned to it (active assignments of the mapping); it
ingests every dataset those groups sink. A datastore with multi-dataset ingestion is one
stream (one consistent snapshot of all its tables); with single-dataset ingestion each dataset
is its own stream.
"""

from __future__ import annotations

from collections import defaultdict

from handler.lint import walk
from handler.model.ecosystem import Ecosystem
from handler.model.governance import Dataset, Datastore
from handler.model.ingestion import IngestionConsistencyType, PostgresDatabase, SQLSnapshotIngestion
from handler.model.platform import YellowDataPlatform, YellowMilestoneStrategy
from handler.model.schema import DDLColumn
from handler.model.types import type_name
from handler.render.naming import sql_name, stream_key
from workflows.spec import ColumnSpec, DatabaseSpec, DatasetSpec, JobSpec, ViewSpec

_SQL_TYPES = {
    "TinyInt": "SMALLINT", "SmallInt": "SMALLINT", "Integer": "INTEGER", "BigInt": "BIGINT",
    "Float": "REAL", "Double": "DOUBLE PRECISION", "Date": "DATE", "Timestamp": "TIMESTAMP",
    "Boolean": "BOOLEAN", "Variant": "JSONB", "Binary": "BYTEA",
}


def sql_type(column: DDLColumn) -> str:
    """The PostgreSQL type of a model column."""
    kind = type(column.type).__name__
    if kind in _SQL_TYPES:
        return _SQL_TYPES[kind]
    size = getattr(column.type, "maxSize", None)
    if kind == "Decimal":
        return f"NUMERIC({size},{column.type.precision})"  # type: ignore[attr-defined]
    if kind == "Char":
        return f"CHAR({size})"
    if kind in ("VarChar", "NVarChar", "String"):
        return "TEXT" if size is None else f"VARCHAR({size})"
    raise ValueError(f"no PostgreSQL type for {type_name(column.type)}")


def _database(db: PostgresDatabase, credential: str) -> DatabaseSpec:
    return DatabaseSpec(host=db.hostPort.hostName, port=db.hostPort.port, database=db.databaseName, credential=credential)


def _dataset_spec(dataset: Dataset) -> DatasetSpec:
    keys = [c.name for c in dataset.schema.columns if c.is_key]
    return DatasetSpec(
        name=dataset.name,
        source_table=dataset.name,
        columns=[
            ColumnSpec(name=c.name, sql_type=sql_type(c), nullable=c.is_nullable, key_position=keys.index(c.name) if c.is_key else None)
            for c in dataset.schema.columns
        ],
    )


def platform_streams(eco: Ecosystem, platform: YellowDataPlatform) -> list[JobSpec]:
    """The job specs of every stream ``platform`` runs, sorted by stream key."""
    groups = {(ws.name, g.name): (ws, g) for _p, ws, g in walk.dataset_groups(eco)}
    stores = {store.name: store for _p, store in walk.datastores(eco)}
    served: dict[str, set[str]] = defaultdict(set)  # store -> datasets
    views: dict[tuple[str, str], list[ViewSpec]] = defaultdict(list)  # (store, dataset) -> views
    forensic = platform.milestoneStrategy == YellowMilestoneStrategy.SCD2
    for mapping in eco.dsg_platform_mappings:
        if not any(a.dataPlatform == platform.name and a.is_active for a in mapping.assignments):
            continue
        if (mapping.workspace, mapping.dsgName) not in groups:
            continue
        workspace, group = groups[(mapping.workspace, mapping.dsgName)]
        for sink in group.sinks:
            store = stores.get(sink.storeName)
            if store is None or store.getDataset(sink.datasetName) is None:
                continue
            served[store.name].add(sink.datasetName)
            views[(store.name, sink.datasetName)].append(
                ViewSpec(
                    workspace=workspace.name, group=group.name, dataset=sink.datasetName,
                    schema_name=sql_name(workspace.name),
                    live_view=sql_name(group.name, sink.datasetName),
                    history_view=sql_name(group.name, sink.datasetName, "history") if forensic else None,
                )
            )
    specs: list[JobSpec] = []
    for store_name in sorted(served):
        store = stores[store_name]
        capture = store.capture_metadata
        if not isinstance(capture, SQLSnapshotIngestion):
            continue  # platform acceptance rejects such a model
        datasets = sorted(served[store_name])
        if capture.singleOrMultiDatasetIngestion == IngestionConsistencyType.MULTI_DATASET:
            specs.append(_job_spec(platform, store, datasets, stream_key(store.name), views))
        else:
            specs.extend(_job_spec(platform, store, [d], stream_key(store.name, d), views) for d in datasets)
    return sorted(specs, key=lambda s: s.stream)


def _job_spec(platform: YellowDataPlatform, store: Datastore, dataset_names: list[str], key: str, views: dict[tuple[str, str], list[ViewSpec]]) -> JobSpec:
    capture = store.capture_metadata
    assert isinstance(capture, SQLSnapshotIngestion)
    if platform.merge_datacontainer is None or platform.postgresCredential is None or platform.schedule is None:
        raise ValueError(f"platform {platform.name} lacks a merge database, credential or schedule (lint rule platform-config)")
    datasets = [store.getDataset(name) for name in dataset_names]
    return JobSpec(
        platform=platform.name,
        strategy="forensic" if platform.milestoneStrategy == YellowMilestoneStrategy.SCD2 else "live",
        stream=key,
        store=store.name,
        datasets=[_dataset_spec(d) for d in datasets if d is not None],
        source=_database(capture.dataContainer, capture.credential.name),
        merge=_database(platform.merge_datacontainer, platform.postgresCredential.name),
        namespace=platform.namespace or "",
        schedule=platform.schedule.cron,
        views=sorted(
            (v for name in dataset_names for v in views[(store.name, name)]),
            key=lambda v: (v.workspace, v.group, v.dataset),
        ),
    )
