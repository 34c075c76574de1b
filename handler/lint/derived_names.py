"""Names that collide once derived: distinct model names that become one schema, role, view,
stream or Kubernetes object after lower-casing and shortening.

Each derived name is computed with the functions rendering and the jobs use, so a model that
passes here gets one object per model object. Without this, workspaces ``Consumer1`` and
``CONSUMER1`` would share a schema and its reader role (one team reading the other's views),
group ``G_b`` with dataset ``customers`` and group ``G`` with ``b_customers`` would share a view
(one silently replacing the other), and store ``Orders_items`` would share a stream with store
``Orders``'s dataset ``items`` (one of them never ingested).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from handler.findings import Finding, error
from handler.model import walk
from handler.model.ecosystem import Ecosystem
from handler.model.ingestion import IngestionConsistencyType, SQLSnapshotIngestion
from handler.render.naming import k8s_name, stream_key
from workflows.spec import sql_name

Owner = tuple[str, str]  # (model path, what it is, as a user reads it)


def check_derived_names(eco: Ecosystem) -> Iterator[Finding]:
    yield from _collisions("schema and reader role", _workspace_schemas(eco))
    for schema, views in _views_by_schema(eco).items():
        yield from _collisions(f"view in schema {schema!r}", views)
    yield from _collisions("ingestion stream", _streams(eco))
    yield from _collisions("Kubernetes name of a stream", ((k8s_name(key), owner) for key, owner in _streams(eco)))
    yield from _collisions("Kubernetes name of a platform", _platforms(eco))


def _collisions(kind: str, named: Iterable[tuple[str, Owner]]) -> Iterator[Finding]:
    owners: dict[str, dict[str, Owner]] = defaultdict(dict)
    for name, (path, what) in named:
        owners[name].setdefault(what, (path, what))  # the same object reached twice is not a collision
    for name, by_what in sorted(owners.items()):
        if len(by_what) > 1:
            first, *others = sorted(by_what.values())
            for path, what in others:
                yield error(
                    "name-collision",
                    path,
                    f"{what} and {first[1]} both become the {kind} {name!r}: one would replace or read the other",
                )


def _workspace_schemas(eco: Ecosystem) -> Iterator[tuple[str, Owner]]:
    for path, workspace in walk.workspaces(eco):
        yield sql_name(workspace.name), (path, f"workspace {workspace.name!r}")


def _views_by_schema(eco: Ecosystem) -> dict[str, list[tuple[str, Owner]]]:
    """Every view a workspace may get: the live view of each sink, and its history view."""
    views: dict[str, list[tuple[str, Owner]]] = defaultdict(list)
    for path, workspace, group in walk.dataset_groups(eco):
        schema = sql_name(workspace.name)
        for sink in group.sinks:
            owner = f"{path}/sink:{sink.storeName}.{sink.datasetName}"
            what = f"group {group.name!r} dataset {sink.datasetName!r}"
            views[schema].append((sql_name(group.name, sink.datasetName), (owner, f"{what} (live view)")))
            views[schema].append((sql_name(group.name, sink.datasetName, "history"), (owner, f"{what} (history view)")))
    return views


def _streams(eco: Ecosystem) -> Iterator[tuple[str, Owner]]:
    for path, store in walk.datastores(eco):
        capture = store.capture_metadata
        single = isinstance(capture, SQLSnapshotIngestion) and (
            capture.singleOrMultiDatasetIngestion == IngestionConsistencyType.SINGLE_DATASET
        )
        if not single:
            yield stream_key(store.name), (path, f"datastore {store.name!r}")
            continue
        for dataset in store.datasets:
            yield (
                stream_key(store.name, dataset.name),
                (
                    f"{path}/dataset:{dataset.name}",
                    f"dataset {dataset.name!r} of datastore {store.name!r}",
                ),
            )


def _platforms(eco: Ecosystem) -> Iterator[tuple[str, Owner]]:
    for platform in eco.data_platforms:
        yield k8s_name(platform.name), (walk.platform_path(platform.name), f"platform {platform.name!r}")
