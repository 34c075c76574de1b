"""Base classes of every model object.

Model objects are ``msgspec`` structs: as cheap to build as slotted dataclasses (a model of
10k datasets has 200k columns), positional and keyword constructors like DataSurface's, and
a strict typed JSON decoder for the untrusted output of a sandboxed model run.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import StructMeta


class ModelObject(msgspec.Struct, forbid_unknown_fields=True):
    """A plain-data object of the ecosystem model."""


class FlexibleConstructor(StructMeta):
    """Metaclass for the few objects whose DSL constructor is not a plain field list.

    The class implements ``_normalize_args(args, kwargs) -> kwargs``; decoding from JSON does
    not go through it.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - a metaclass method: cls is the class called
        return super().__call__(**cls._normalize_args(args, kwargs))  # type: ignore[attr-defined]


def find_named(items: list[Any], name: str) -> Any:
    """The first item called ``name``, or None."""
    return next((item for item in items if item.name == name), None)


def definition_of(definitions: list[Any], declarations: list[Any], name: str, factory: Any, where: str) -> Any:
    """The definition of a declared zone or team, created on first use (DataSurface's ``...OrThrow``)."""
    found = find_named(definitions, name)
    if found is not None:
        return found
    if find_named(declarations, name) is None:
        declared = ", ".join(sorted(d.name for d in declarations)) or "none"
        raise LookupError(f"{where} {name!r} (declared: {declared})")
    created = factory(name=name)
    definitions.append(created)
    return created
