"""Data classifications."""

from __future__ import annotations

from enum import Enum

from handler.model.base import ModelObject


class SimpleDCTypes(str, Enum):
    """Simple data classification levels, as in DataSurface."""

    PUB = "PUB"  # public
    IP = "IP"  # internal
    PC1 = "PC1"  # personal, low sensitivity
    PC2 = "PC2"
    PC3 = "PC3"  # personal, highly sensitive
    CPI = "CPI"  # customer personal information
    MNPI = "MNPI"  # material non-public information
    CSI = "CSI"  # client sensitive information


class SimpleDC(ModelObject):
    dcType: SimpleDCTypes
    name: str = ""
