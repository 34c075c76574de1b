"""Dataset schemas: tables of typed columns."""

from __future__ import annotations

from enum import Enum

from handler.model.base import ModelObject
from handler.model.policy import SimpleDC
from handler.model.types import DataType


class NullableStatus(str, Enum):
    NOT_NULLABLE = "NOT_NULLABLE"
    NULLABLE = "NULLABLE"


class PrimaryKeyStatus(str, Enum):
    PK = "PK"
    NOT_PK = "NOT_PK"


class DDLColumn(ModelObject):
    name: str
    type: DataType
    nullable: NullableStatus = NullableStatus.NULLABLE
    primary_key: PrimaryKeyStatus = PrimaryKeyStatus.NOT_PK
    classifications: list[SimpleDC] | None = None

    @property
    def is_key(self) -> bool:
        return self.primary_key == PrimaryKeyStatus.PK

    @property
    def is_nullable(self) -> bool:
        return self.nullable == NullableStatus.NULLABLE


class DDLTable(ModelObject):
    """A table schema. Column order is significant; key order is the order of PK columns."""

    columns: list[DDLColumn]

    def getColumnByName(self, name: str) -> DDLColumn | None:
        return next((c for c in self.columns if c.name == name), None)
