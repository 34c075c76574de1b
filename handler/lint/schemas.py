"""Dataset schemas: keys, types, classifications."""

from __future__ import annotations

from collections.abc import Iterator

from handler.findings import Finding, error, warning
from handler.model import walk
from handler.model.ecosystem import Ecosystem
from handler.model.schema import NullableStatus, PrimaryKeyStatus
from handler.model.types import Decimal, type_name

MAX_STRING = 10_485_760  # PostgreSQL's largest varchar
MAX_DECIMAL = 1000


def check_schemas(eco: Ecosystem) -> Iterator[Finding]:
    pk, not_null = PrimaryKeyStatus.PK, NullableStatus.NOT_NULLABLE
    for path, _store, dataset in walk.datasets(eco):
        columns = dataset.schema.columns
        if not columns:
            yield error("dataset-empty", path, f"dataset {dataset.name!r} has no columns")
            continue
        has_key = False
        for column in columns:
            if column.primary_key == pk:
                has_key = True
                if column.nullable != not_null:
                    yield error(
                        "primary-key-nullable",
                        f"{path}/column:{column.name}",
                        f"key column {column.name!r} must be NOT_NULLABLE",
                    )
            size = getattr(column.type, "maxSize", None)
            if size is not None:
                problem = _size_problem(column.type, size)
                if problem:
                    yield error("type-invalid", f"{path}/column:{column.name}", f"{type_name(column.type)}: {problem}")
        if not has_key:
            yield error("primary-key-missing", path, f"dataset {dataset.name!r} has no primary key column")
        if not dataset.classifications and not any(c.classifications for c in columns):
            yield warning("classification-missing", path, f"dataset {dataset.name!r} has no data classification")


def _size_problem(data_type: object, size: int) -> str:
    if isinstance(data_type, Decimal):
        if not 0 < size <= MAX_DECIMAL:
            return f"maxSize must be between 1 and {MAX_DECIMAL}"
        if not 0 <= data_type.precision <= size:
            return "precision must be between 0 and maxSize"
        return ""
    if not 0 < size <= MAX_STRING:
        return f"size must be between 1 and {MAX_STRING}"
    return ""
