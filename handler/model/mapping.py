"""``dsg_platform_mapping.json``: which platform serves each (workspace, dataset group)."""

from __future__ import annotations

from enum import Enum

from handler.model.base import ModelObject

MAPPING_FILE = "dsg_platform_mapping.json"


class AssignmentStatus(str, Enum):
    PROVISIONING = "PROVISIONING"
    PROVISIONED = "PROVISIONED"
    DECOMMISSIONING = "DECOMMISSIONING"
    DECOMMISSIONED = "DECOMMISSIONED"


class ProductionStatus(str, Enum):
    PRODUCTION = "PRODUCTION"
    NOT_PRODUCTION = "NOT_PRODUCTION"


class DeprecationsAllowed(str, Enum):
    NEVER = "NEVER"
    ALLOWED = "ALLOWED"


class DSGPlatformAssignment(ModelObject, kw_only=True):
    dataPlatform: str
    status: AssignmentStatus = AssignmentStatus.PROVISIONED
    documentation: str | None = None
    productionStatus: ProductionStatus = ProductionStatus.PRODUCTION
    deprecationsAllowed: DeprecationsAllowed = DeprecationsAllowed.NEVER

    @property
    def is_active(self) -> bool:
        """Whether the platform should (still) serve the group."""
        return self.status in (AssignmentStatus.PROVISIONING, AssignmentStatus.PROVISIONED)


class DSGPlatformMapping(ModelObject, kw_only=True):
    dsgName: str
    workspace: str
    assignments: list[DSGPlatformAssignment]
