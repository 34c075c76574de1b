"""Consumers: workspaces, their dataset groups and what those groups need from a platform."""

from __future__ import annotations

from enum import Enum
from typing import Any

from handler.model.base import FlexibleConstructor, ModelObject
from handler.model.documentation import DOCUMENTATION_TYPES, Documentation
from handler.model.ingestion import PostgresDatabase


class DataMilestoningStrategy(str, Enum):
    LIVE_ONLY = "LIVE_ONLY"  # current rows only
    FORENSIC = "FORENSIC"  # every version, milestoned by batch


class DataLatency(str, Enum):
    SECONDS = "SECONDS"
    MINUTES = "MINUTES"
    HOURS = "HOURS"
    DAYS = "DAYS"


class ConsumerRetentionRequirements(ModelObject):
    r: DataMilestoningStrategy
    latency: DataLatency = DataLatency.MINUTES
    regulator: str | None = None


class WorkspacePlatformConfig(ModelObject):
    hist: ConsumerRetentionRequirements


class DatasetSink(ModelObject):
    storeName: str
    datasetName: str


class DatasetGroup(ModelObject):
    name: str
    sinks: list[DatasetSink] = []
    platform_chooser: WorkspacePlatformConfig | None = None
    documentation: Documentation | None = None


class DataPlatformManagedDataContainer(ModelObject, tag="DataPlatformManagedDataContainer", tag_field="kind"):
    """The workspace's data lives wherever its assigned platform puts it (views in the merge database)."""

    name: str


#: Where a workspace's views live: the platform's choice, or the workspace's own consumer database
#: (a ``PostgresDatabase`` with the credential the platform writes it with; docs/consumer-views.md).
WorkspaceContainer = DataPlatformManagedDataContainer | PostgresDatabase


class Workspace(ModelObject, metaclass=FlexibleConstructor, kw_only=True):
    """``Workspace(name, [container], DatasetGroup(...), ..., [documentation])``, as in DataSurface."""

    name: str
    container: WorkspaceContainer | None = None
    dsgs: list[DatasetGroup] = []
    documentation: Documentation | None = None

    @classmethod
    def _normalize_args(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if not args:
            return kwargs
        if "name" in kwargs:
            raise TypeError("Workspace() got two names")
        dsgs = list(kwargs.get("dsgs") or [])
        for arg in args[1:]:
            if isinstance(arg, DatasetGroup):
                dsgs.append(arg)
            elif isinstance(arg, DataPlatformManagedDataContainer | PostgresDatabase):
                kwargs["container"] = arg
            elif isinstance(arg, DOCUMENTATION_TYPES):
                kwargs["documentation"] = arg
            else:
                raise TypeError(
                    "Workspace() takes a name, then DatasetGroup, DataPlatformManagedDataContainer, "
                    f"PostgresDatabase or documentation objects, not {type(arg).__name__}"
                )
        return {**kwargs, "name": args[0], "dsgs": dsgs}

    def getDSG(self, name: str) -> DatasetGroup | None:
        return next((g for g in self.dsgs if g.name == name), None)
