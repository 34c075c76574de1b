"""Platform acceptance: every assigned platform can serve what it is given (see docs/validation.md)."""

from __future__ import annotations

from collections.abc import Iterator

from handler.findings import Finding, error
from handler.model import walk
from handler.model.ecosystem import Ecosystem
from handler.model.ingestion import PostgresDatabase, SQLSnapshotIngestion
from handler.model.workspace import DataLatency

#: Yellow platforms run on cron schedules: a minute is the fastest they can be.
UNSERVABLE_LATENCY = {DataLatency.SECONDS}


def check_acceptance(head: Ecosystem) -> Iterator[Finding]:
    stores = {store.name: store for _path, store in walk.datastores(head)}
    groups = {(ws.name, g.name): (path, g) for path, ws, g in walk.dataset_groups(head)}
    platforms = {p.name: p for p in head.data_platforms}
    for mapping in head.dsg_platform_mappings:
        found = groups.get((mapping.workspace, mapping.dsgName))
        if found is None:
            continue  # lint reports the unknown group
        path, group = found
        for assignment in mapping.assignments:
            platform = platforms.get(assignment.dataPlatform)
            if platform is None or not assignment.is_active:
                continue
            hist = group.platform_chooser.hist if group.platform_chooser else None
            if hist is not None and hist.latency in UNSERVABLE_LATENCY:
                yield error(
                    "platform-latency",
                    path,
                    f"{platform.name} runs at most once a minute and cannot meet {hist.latency.value} latency",
                )
            for sink in group.sinks:
                store = stores.get(sink.storeName)
                if store is None:
                    continue  # lint reports the unresolved sink
                capture = store.capture_metadata
                if not isinstance(capture, SQLSnapshotIngestion) or not isinstance(
                    capture.dataContainer, PostgresDatabase
                ):
                    yield error(
                        "platform-unsupported-capture",
                        f"{path}/sink:{sink.storeName}.{sink.datasetName}",
                        f"{platform.name} ingests SQL snapshots of PostgreSQL databases; datastore {store.name!r} "
                        "has no such capture_metadata",
                    )
