"""Data platforms: what turns producer data into consumer views."""

from __future__ import annotations

import re
from enum import Enum

from handler.model.base import ModelObject
from handler.model.credential import Credential
from handler.model.documentation import Documentation
from handler.model.ingestion import CronTrigger, LocationKey, PostgresDatabase, location_list
from handler.model.workspace import DataMilestoningStrategy


class YellowMilestoneStrategy(str, Enum):
    SCD1 = "SCD1"  # live: current state only
    SCD2 = "SCD2"  # forensic: full milestoned history
    # DataSurface's names for the same strategies.
    LIVE_ONLY = "SCD1"  # noqa: PIE796 - an alias on purpose
    BATCH_MILESTONED = "SCD2"  # noqa: PIE796 - an alias on purpose

    @property
    def serves(self) -> DataMilestoningStrategy:
        """The consumer retention this strategy serves."""
        if self is YellowMilestoneStrategy.SCD1:
            return DataMilestoningStrategy.LIVE_ONLY
        return DataMilestoningStrategy.FORENSIC


#: Schedules of platforms whose model names none (the MVP: live every minute, forensic every 10).
DEFAULT_CRONS = {YellowMilestoneStrategy.SCD1: "*/1 * * * *", YellowMilestoneStrategy.SCD2: "*/10 * * * *"}


def default_namespace(platform_name: str) -> str:
    """A DNS-1123 label derived from a platform name: ``YellowLive`` -> ``ds-yellowlive``."""
    return "ds-" + re.sub(r"[^a-z0-9-]+", "-", platform_name.lower()).strip("-")


class YellowDataPlatform(ModelObject, tag="YellowDataPlatform", tag_field="kind"):
    """A PostgreSQL-backed platform that snapshot-merges producer tables, as DataSurface's Yellow."""

    name: str
    milestoneStrategy: YellowMilestoneStrategy
    doc: Documentation | None = None
    namespace: str | None = None
    merge_datacontainer: PostgresDatabase | None = None
    postgresCredential: Credential | None = None
    gitCredential: Credential | None = None
    schedule: CronTrigger | None = None

    def __post_init__(self) -> None:
        # Effective defaults are filled in here so the canonical JSON states them.
        if self.schedule is None:
            self.schedule = CronTrigger("Default schedule", DEFAULT_CRONS[self.milestoneStrategy])
        if self.namespace is None:
            self.namespace = default_namespace(self.name)


class YellowPlatformServiceProvider(ModelObject):
    """Settings shared by several Yellow platforms; a platform's own settings win.

    Only a construction helper: the ecosystem keeps its platforms with the shared settings applied.
    """

    name: str
    locations: list[LocationKey] = []
    doc: Documentation | None = None
    namespace: str | None = None
    gitCredential: Credential | None = None
    connectCredentials: Credential | None = None
    postgresCredential: Credential | None = None
    merge_datacontainer: PostgresDatabase | None = None
    dataPlatforms: list[YellowDataPlatform] = []

    def __post_init__(self) -> None:
        self.locations = location_list(self.locations)

    def platforms(self) -> list[YellowDataPlatform]:
        result = []
        for platform in self.dataPlatforms:
            for field in ("merge_datacontainer", "postgresCredential", "gitCredential"):
                if getattr(platform, field) is None:
                    setattr(platform, field, getattr(self, field))
            if self.namespace is not None and platform.namespace == default_namespace(platform.name):
                platform.namespace = self.namespace
            result.append(platform)
        return result
