"""How a datastore's data is captured: SQL snapshots of a producer database on a schedule."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from handler.model.base import ModelObject
from handler.model.credential import Credential


class HostPortPair(ModelObject):
    hostName: str
    port: int


class LocationKey(ModelObject, frozen=True):  # type: ignore[misc]  # msgspec allows it: hashable, for sets of locations
    """A location such as ``"MyCorp:USA/NY_1"`` (vendor:location/sub-location)."""

    key: str


class PostgresDatabase(ModelObject, tag="PostgresDatabase", tag_field="kind"):
    """A PostgreSQL database. ``credential``: only for a workspace's own consumer database, the
    secret the platform writes it with (a producer's credential belongs to its ingestion)."""

    name: str
    hostPort: HostPortPair
    databaseName: str
    locations: list[LocationKey] = []
    credential: Credential | None = None

    def __post_init__(self) -> None:
        self.locations = location_list(self.locations)


def location_list(locations: Iterable[LocationKey]) -> list[LocationKey]:
    """DataSurface models pass a set of LocationKey; keep a sorted list."""
    if isinstance(locations, list):
        return locations
    return sorted(locations, key=lambda loc: loc.key)


class CronTrigger(ModelObject):
    name: str
    cron: str


class IngestionConsistencyType(str, Enum):
    SINGLE_DATASET = "SINGLE_DATASET"  # one ingestion stream per dataset
    MULTI_DATASET = "MULTI_DATASET"  # one stream for the whole store, one consistent snapshot


class SQLSnapshotIngestion(ModelObject, tag="SQLSnapshotIngestion", tag_field="kind"):
    dataContainer: PostgresDatabase
    trigger: CronTrigger | None
    singleOrMultiDatasetIngestion: IngestionConsistencyType
    credential: Credential


CaptureMetadata = SQLSnapshotIngestion  # the one capture kind so far; a union when others come
