"""Which ingestion streams each platform runs, with their job specs (pure).

A platform serves the dataset groups assigned to it (active assignments of the mapping); it
ingests every dataset those groups sink. A datastore with multi-dataset ingestion is one
stream (one consistent snapshot of all its tables); with single-dataset ingestion each dataset
is its own stream.

Specs are built as plain data in the shape of ``workflows.spec.JobSpec`` and serialized with
its ``spec_json``: a 10k-dataset model has 200k columns, too many to build spec objects
for on every render. Jobs validate a spec when they read it; tests check the renderer's
output against the contract.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import msgspec

from handler.model import walk
from handler.model.ecosystem import Ecosystem
from handler.model.governance import Dataset, Datastore
from handler.model.ingestion import IngestionConsistencyType, PostgresDatabase, SQLSnapshotIngestion
from handler.model.platform import YellowDataPlatform, YellowMilestoneStrategy
from handler.model.schema import DDLColumn, NullableStatus, PrimaryKeyStatus
from handler.model.types import Decimal, type_name
from handler.model.workspace import DataLatency, DatasetGroup
from handler.render.naming import stream_key
from workflows.spec import SPEC_VERSION, MergeSettings, schedule_freshness, spec_json, sql_name

_SQL_TYPES = {
    "TinyInt": "SMALLINT",
    "SmallInt": "SMALLINT",
    "Integer": "INTEGER",
    "BigInt": "BIGINT",
    "Float": "REAL",
    "Double": "DOUBLE PRECISION",
    "Date": "DATE",
    "Timestamp": "TIMESTAMP",
    "Boolean": "BOOLEAN",
    "Variant": "JSONB",
    "Binary": "BYTEA",
}

#: The job's database settings (workflows.spec.MergeSettings), written out so a spec says what it runs with.
DEFAULT_MERGE_SETTINGS = msgspec.to_builtins(MergeSettings())


#: How old a consumer's data may get, by the latency its dataset group asks for (docs/operations.md).
LATENCY_SECONDS = {
    DataLatency.SECONDS: 60,
    DataLatency.MINUTES: 15 * 60,
    DataLatency.HOURS: 4 * 3600,
    DataLatency.DAYS: 2 * 86400,
}


def group_latency_seconds(group: DatasetGroup) -> int:
    """The latency a dataset group asks for, in seconds (MINUTES when it does not say)."""
    chooser = group.platform_chooser
    return LATENCY_SECONDS[chooser.hist.latency if chooser is not None else DataLatency.MINUTES]


def freshness_target(schedule: str, latencies: list[int]) -> int:
    """A stream's freshness target: the strictest latency its consumers ask for, but never tighter
    than its schedule can deliver (two intervals and a minute)."""
    floor = schedule_freshness(schedule)
    return max(floor, min(latencies)) if latencies else floor


@dataclass(frozen=True)
class Stream:
    """One ingestion stream of a platform: what rendering needs, and the job spec itself."""

    platform: str
    stream: str
    store: str
    strategy: str  # live | forensic
    schedule: str
    freshness_seconds: int
    datasets: tuple[str, ...]
    source_credential: str  # the secret of the stream's producer database
    merge_credential: str
    consumer_credentials: tuple[str, ...]  # the secrets of the consumer databases its views live in
    views: dict[str, tuple[str, ...]]  # "schema.view" -> its columns
    spec: dict[str, Any]  # the JobSpec data
    spec_json: str


def sql_type(column: DDLColumn) -> str:
    """The PostgreSQL type of a model column."""
    kind = type(column.type).__name__
    if kind in _SQL_TYPES:
        return _SQL_TYPES[kind]
    size = getattr(column.type, "maxSize", None)
    if isinstance(column.type, Decimal):
        return f"NUMERIC({size},{column.type.precision})"
    if kind == "Char":
        return f"CHAR({size})"
    if kind in ("VarChar", "NVarChar", "String"):
        return "TEXT" if size is None else f"VARCHAR({size})"
    raise ValueError(f"no PostgreSQL type for {type_name(column.type)}")


def _database(db: PostgresDatabase, credential: str) -> dict[str, Any]:
    return {
        "host": db.hostPort.hostName,
        "port": db.hostPort.port,
        "database": db.databaseName,
        "credential": credential,
    }


def _consumer_database(container: object) -> dict[str, Any] | None:
    """A workspace's own database (lint rule workspace-database-credential makes sure of the credential)."""
    if isinstance(container, PostgresDatabase) and container.credential is not None:
        return _database(container, container.credential.name)
    return None


def _dataset(dataset: Dataset) -> dict[str, Any]:
    pk, nullable = PrimaryKeyStatus.PK, NullableStatus.NULLABLE
    columns = []
    key_position = 0
    for c in dataset.schema.columns:
        position = None
        if c.primary_key == pk:
            position, key_position = key_position, key_position + 1
        columns.append(
            {"name": c.name, "sql_type": sql_type(c), "nullable": c.nullable == nullable, "key_position": position}
        )
    return {"name": dataset.name, "source_table": dataset.name, "columns": columns}


def platform_streams(eco: Ecosystem, platform: YellowDataPlatform) -> list[Stream]:
    """Every stream ``platform`` runs, sorted by stream key."""
    groups = {(ws.name, g.name): (ws, g) for _p, ws, g in walk.dataset_groups(eco)}
    stores = {store.name: store for _p, store in walk.datastores(eco)}
    dataset_names = {name: {d.name for d in store.datasets} for name, store in stores.items()}
    served: dict[str, set[str]] = defaultdict(set)  # store -> datasets
    views: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)  # (store, dataset) -> views
    latencies: dict[tuple[str, str], list[int]] = defaultdict(list)  # (store, dataset) -> what consumers ask
    forensic = platform.milestoneStrategy == YellowMilestoneStrategy.SCD2
    for mapping in eco.dsg_platform_mappings:
        if not any(a.dataPlatform == platform.name and a.is_active for a in mapping.assignments):
            continue
        if (mapping.workspace, mapping.dsgName) not in groups:
            continue
        workspace, group = groups[(mapping.workspace, mapping.dsgName)]
        for sink in group.sinks:
            store = stores.get(sink.storeName)
            if store is None or sink.datasetName not in dataset_names[store.name]:
                continue
            served[store.name].add(sink.datasetName)
            latencies[(store.name, sink.datasetName)].append(group_latency_seconds(group))
            views[(store.name, sink.datasetName)].append(
                {
                    "workspace": workspace.name,
                    "group": group.name,
                    "dataset": sink.datasetName,
                    "schema_name": sql_name(workspace.name),
                    "live_view": sql_name(group.name, sink.datasetName),
                    "history_view": sql_name(group.name, sink.datasetName, "history") if forensic else None,
                    "database": _consumer_database(workspace.container),
                }
            )
    streams: list[Stream] = []
    for store_name in sorted(served):  # (datasets were checked to exist above)
        store = stores[store_name]
        capture = store.capture_metadata
        if not isinstance(capture, SQLSnapshotIngestion):
            continue  # platform acceptance rejects such a model
        datasets = sorted(served[store_name])
        if capture.singleOrMultiDatasetIngestion == IngestionConsistencyType.MULTI_DATASET:
            streams.append(_stream(platform, store, datasets, stream_key(store.name), views, latencies))
        else:
            streams.extend(_stream(platform, store, [d], stream_key(store.name, d), views, latencies) for d in datasets)
    return sorted(streams, key=lambda s: s.stream)


def _stream(
    platform: YellowDataPlatform,
    store: Datastore,
    dataset_names: list[str],
    key: str,
    views: dict[tuple[str, str], list[dict[str, Any]]],
    latencies: dict[tuple[str, str], list[int]],
) -> Stream:
    capture = store.capture_metadata
    if not isinstance(capture, SQLSnapshotIngestion):
        raise TypeError(f"datastore {store.name} has no SQL snapshot ingestion")  # platform_streams filtered these out
    if platform.merge_datacontainer is None or platform.postgresCredential is None or platform.schedule is None:
        raise ValueError(
            f"platform {platform.name} lacks a merge database, credential or schedule (lint rule platform-config)"
        )
    by_name = {d.name: d for d in store.datasets}
    datasets = {name: _dataset(by_name[name]) for name in dataset_names if name in by_name}
    stream_views = sorted(
        (v for name in dataset_names for v in views[(store.name, name)]),
        key=lambda v: (v["workspace"], v["group"], v["dataset"]),
    )
    freshness = freshness_target(
        platform.schedule.cron, [s for name in dataset_names for s in latencies[(store.name, name)]]
    )
    strategy = "forensic" if platform.milestoneStrategy == YellowMilestoneStrategy.SCD2 else "live"
    spec = {  # field order of workflows.spec.JobSpec
        "spec_version": SPEC_VERSION,
        "platform": platform.name,
        "strategy": strategy,
        "stream": key,
        "store": store.name,
        "datasets": list(datasets.values()),
        "source": _database(capture.dataContainer, capture.credential.name),
        "merge": _database(platform.merge_datacontainer, platform.postgresCredential.name),
        "namespace": platform.namespace or "",
        "schedule": platform.schedule.cron,
        "freshness_seconds": freshness,
        "views": stream_views,
        "merge_settings": DEFAULT_MERGE_SETTINGS,
    }
    view_columns: dict[str, tuple[str, ...]] = {}
    for v in stream_views:
        columns = tuple(c["name"] for c in datasets[v["dataset"]]["columns"])
        view_columns[f"{v['schema_name']}.{v['live_view']}"] = columns
        if v["history_view"]:
            view_columns[f"{v['schema_name']}.{v['history_view']}"] = columns
    return Stream(
        platform=platform.name,
        stream=key,
        store=store.name,
        strategy=strategy,
        schedule=platform.schedule.cron,
        freshness_seconds=freshness,
        datasets=tuple(datasets),
        source_credential=capture.credential.name,
        merge_credential=platform.postgresCredential.name,
        consumer_credentials=tuple(sorted({v["database"]["credential"] for v in stream_views if v["database"]})),
        views=view_columns,
        spec=spec,
        spec_json=spec_json(spec),
    )
