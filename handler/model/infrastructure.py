"""Where things run: infrastructure vendors and their locations."""

from __future__ import annotations

from enum import Enum

from handler.model.base import ModelObject
from handler.model.documentation import Documentation


class CloudVendor(str, Enum):
    PRIVATE = "PRIVATE"
    AWS = "AWS"
    AZURE = "AZURE"
    GCP = "GCP"
    IBM = "IBM"
    ORACLE = "ORACLE"


class InfrastructureLocation(ModelObject):
    name: str
    locations: list[InfrastructureLocation] = []
    documentation: Documentation | None = None


class InfrastructureVendor(ModelObject):
    name: str
    cloud_vendor: CloudVendor = CloudVendor.PRIVATE
    documentation: Documentation | None = None
    locations: list[InfrastructureLocation] = []
