"""Backwards compatibility of dataset schemas (see docs/validation.md).

Consumers and merge tables depend on what exists: columns may be added only as nullable
non-key columns, never removed; types may only widen; nullability and keys never change; a
dataset that a workspace still uses cannot be removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from handler.diff import ChangeKind, ModelChange
from handler.findings import Finding, error
from handler.model import walk
from handler.model.ecosystem import Ecosystem
from handler.model.schema import DDLColumn
from handler.model.types import INTEGER_KINDS, Decimal, type_name

_STRINGS = ("Char", "VarChar", "String")  # each may widen to the ones after it
_WIDER_KIND = {("Date", "Timestamp"), ("Float", "Double")}


def widening_problem(before: Any, after: Any) -> str | None:
    """None when ``after`` can hold every value of ``before``; else why not."""
    kb, ka = type(before).__name__, type(after).__name__
    if kb == ka and before == after:
        return None
    if kb in INTEGER_KINDS and ka in INTEGER_KINDS:
        return None if INTEGER_KINDS.index(ka) >= INTEGER_KINDS.index(kb) else "a narrower integer type"
    if (kb in _STRINGS and ka in _STRINGS) or kb == ka == "NVarChar" or (kb == "NVarChar" and ka == "String"):
        if kb in _STRINGS and ka in _STRINGS and _STRINGS.index(ka) < _STRINGS.index(kb):
            return f"{kb} cannot become {ka}"
        return None if _size_at_least(after.maxSize, before.maxSize) else "a shorter string"
    if kb == ka == "Binary":
        return None if _size_at_least(after.maxSize, before.maxSize) else "a shorter binary"
    if isinstance(before, Decimal) and isinstance(after, Decimal):
        if after.precision >= before.precision and after.maxSize - after.precision >= before.maxSize - before.precision:
            return None
        return "a Decimal with fewer integer or fraction digits"
    if (kb, ka) in _WIDER_KIND:
        return None
    return f"the kind of type changed from {kb} to {ka}"


def _size_at_least(after: int | None, before: int | None) -> bool:
    return after is None or (before is not None and after >= before)


def _users_of_datasets(head: Ecosystem) -> dict[tuple[str, str], list[str]]:
    users: dict[tuple[str, str], list[str]] = defaultdict(list)
    for _path, workspace, group in walk.dataset_groups(head):
        for sink in group.sinks:
            users[(sink.storeName, sink.datasetName)].append(f"{workspace.name}/{group.name}")
    return users


def check_compatibility(head: Ecosystem, changes: list[ModelChange]) -> Iterator[Finding]:
    users: dict[tuple[str, str], list[str]] | None = None
    for change in changes:
        if change.object_type == "column":
            yield from _check_column(change)
        elif change.object_type == "dataset" and change.kind == ChangeKind.REMOVED:
            if users is None:
                users = _users_of_datasets(head)
            store = change.path.split("/store:", 1)[1].split("/", 1)[0]
            used_by = users.get((store, change.before.name), [])
            if used_by:
                yield error(
                    "compat-dataset-in-use",
                    change.path,
                    f"dataset {store}.{change.before.name} is removed but still used by {', '.join(sorted(used_by))}; "
                    "remove it from those dataset groups first",
                )


def _check_column(change: ModelChange) -> Iterator[Finding]:
    before: DDLColumn | None = change.before
    after: DDLColumn | None = change.after
    if after is None:
        if before is not None:
            yield error(
                "compat-column-removed",
                change.path,
                f"column {before.name!r} is removed; columns can never be removed (consumers and history depend on them)",
            )
        return
    if before is None:
        if after.is_key:
            yield error(
                "compat-column-added-key",
                change.path,
                f"new column {after.name!r} is a primary key column; the key of an existing dataset cannot change",
            )
        elif not after.is_nullable:
            yield error(
                "compat-column-added-not-null",
                change.path,
                f"new column {after.name!r} is NOT_NULLABLE; existing rows have no value for it, add it as NULLABLE",
            )
        return
    if before.nullable != after.nullable:
        yield error(
            "compat-nullability-changed",
            change.path,
            f"column {after.name!r} changed from {before.nullable.value} to {after.nullable.value}",
        )
    if before.primary_key != after.primary_key:
        yield error(
            "compat-key-changed",
            change.path,
            f"column {after.name!r} changed from {before.primary_key.value} to {after.primary_key.value}; the key of an existing dataset cannot change",
        )
    problem = widening_problem(before.type, after.type)
    if problem:
        rule = (
            "compat-type-kind-changed"
            if problem.startswith("the kind") or " cannot become " in problem
            else "compat-type-narrowed"
        )
        yield error(
            rule,
            change.path,
            f"column {after.name!r} changed from {type_name(before.type)} to {type_name(after.type)}: {problem}; types may only widen",
        )
