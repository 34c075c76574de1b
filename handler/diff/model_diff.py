"""Structural diff of two ecosystems, object by object, keyed by model path.

Each object kind contributes its *own* attributes (children excluded) to a fingerprint; a
subtree whose encoding is byte-equal in both models is skipped without descending, so the
cost follows the size of the change, not of the model. An added or removed object is one
change (its children come and go with it), except that a zone's teams are diffed on their
own since a different repository owns them. Empty zone and team definitions (created by
``getZoneOrThrow`` with nothing in them yet) count as absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import msgspec

from handler.model.ecosystem import Ecosystem
from handler.model.governance import Dataset, Datastore, GovernanceZone, Team
from handler.model.workspace import DatasetGroup, Workspace

_encode = msgspec.json.Encoder(order="sorted").encode


class ChangeKind(str, Enum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"


@dataclass(frozen=True)
class ModelChange:
    """One changed object. ``scope`` says who owns it: ``ecosystem``, ``zone:Z`` or ``zone:Z/team:T``."""

    path: str
    kind: ChangeKind
    object_type: str
    scope: str
    before: Any = None
    after: Any = None


def _own(obj: Any, exclude: tuple[str, ...]) -> bytes:
    """Fingerprint of an object's own attributes (children listed in ``exclude`` left out)."""
    return _encode({f: getattr(obj, f) for f in obj.__struct_fields__ if f not in exclude})


def _named(items: list[Any], key: Callable[[Any], str] = lambda x: x.name) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items:
        result.setdefault(key(item), item)  # a duplicate name is lint's business, not the diff's
    return result


class _Differ:
    def __init__(self) -> None:
        self.changes: list[ModelChange] = []

    def emit(self, path: str, kind: ChangeKind, object_type: str, scope: str, before: Any, after: Any) -> None:
        self.changes.append(ModelChange(path, kind, object_type, scope, before, after))

    def collection(
        self,
        prefix: str,
        object_type: str,
        scope: str,
        before: dict[str, Any],
        after: dict[str, Any],
        own: Callable[[Any], bytes],
        children: Callable[[str, Any, Any], None] | None = None,
    ) -> None:
        """Diff two name->object maps; ``children(path, b, a)`` descends into objects in both."""
        for name in sorted(before.keys() | after.keys()):
            b, a = before.get(name), after.get(name)
            path = f"{prefix}{object_type}:{name}"
            if b is None:  # an added or removed object is one change, its children part of it
                self.emit(path, ChangeKind.ADDED, object_type, scope, None, a)
            elif a is None:
                self.emit(path, ChangeKind.REMOVED, object_type, scope, b, None)
            elif _encode(b) != _encode(a):
                if own(b) != own(a):
                    self.emit(path, ChangeKind.MODIFIED, object_type, scope, b, a)
                if children:
                    children(path, b, a)


def _zones(eco: Ecosystem | None) -> dict[str, GovernanceZone]:
    return {} if eco is None else {z.name: z for z in eco.zones if z.team_declarations or z.teams or z.documentation}


def _teams(zone: GovernanceZone | None) -> dict[str, Team]:
    return {} if zone is None else {t.name: t for t in zone.teams if t.datastores or t.workspaces or t.documentation}


def _mapping_key(mapping: Any) -> str:
    return f"{mapping.workspace}/{mapping.dsgName}"


def _sink_key(sink: Any) -> str:
    return f"{sink.storeName}.{sink.datasetName}"


_ECO_CHILDREN = ("governance_zone_declarations", "zones", "data_platforms", "dsg_platform_mappings")


def diff_models(base: Ecosystem | None, head: Ecosystem) -> list[ModelChange]:
    """Every added, removed and modified object of ``head`` relative to ``base`` (None: initial check-in)."""
    d = _Differ()
    if base is None or _own(base, _ECO_CHILDREN) != _own(head, _ECO_CHILDREN):
        d.emit(
            "ecosystem", ChangeKind.ADDED if base is None else ChangeKind.MODIFIED, "ecosystem", "ecosystem", base, head
        )
    eco_b = base.governance_zone_declarations if base else []
    d.collection("", "zone-declaration", "ecosystem", _named(eco_b), _named(head.governance_zone_declarations), _encode)
    d.collection(
        "", "platform", "ecosystem", _named(base.data_platforms if base else []), _named(head.data_platforms), _encode
    )
    d.collection(
        "",
        "mapping",
        "ecosystem",
        _named(base.dsg_platform_mappings if base else [], _mapping_key),
        _named(head.dsg_platform_mappings, _mapping_key),
        _encode,
    )
    for name in sorted(_zones(base).keys() | _zones(head).keys()):
        _diff_zone(d, name, _zones(base).get(name), _zones(head).get(name))
    return d.changes


def _definition_changed(
    d: _Differ, scope: str, object_type: str, before: Any, after: Any, children: tuple[str, ...]
) -> bool:
    """Emit a zone's or team's own change; False when the whole definition is unchanged."""
    if before is not None and after is not None and _encode(before) == _encode(after):
        return False
    if before is None or after is None or _own(before, children) != _own(after, children):
        kind = ChangeKind.ADDED if before is None else ChangeKind.REMOVED if after is None else ChangeKind.MODIFIED
        d.emit(scope, kind, object_type, scope, before, after)
    return True


def _diff_zone(d: _Differ, name: str, before: GovernanceZone | None, after: GovernanceZone | None) -> None:
    scope = f"zone:{name}"
    if not _definition_changed(d, scope, "zone", before, after, ("team_declarations", "teams")):
        return
    d.collection(
        f"{scope}/",
        "team-declaration",
        scope,
        _named(before.team_declarations if before else []),
        _named(after.team_declarations if after else []),
        _encode,
    )
    teams_b, teams_a = _teams(before), _teams(after)
    for team_name in sorted(teams_b.keys() | teams_a.keys()):
        _diff_team(d, f"{scope}/team:{team_name}", teams_b.get(team_name), teams_a.get(team_name))


def _diff_team(d: _Differ, scope: str, before: Team | None, after: Team | None) -> None:
    if not _definition_changed(d, scope, "team", before, after, ("datastores", "workspaces")):
        return

    def datasets(path: str, b: Datastore, a: Datastore) -> None:
        d.collection(
            f"{path}/",
            "dataset",
            scope,
            _named(b.datasets),
            _named(a.datasets),
            lambda x: _own(x, ("schema",)) + _own(x.schema, ("columns",)),
            columns,
        )

    def columns(path: str, b: Dataset, a: Dataset) -> None:
        d.collection(f"{path}/", "column", scope, _named(b.schema.columns), _named(a.schema.columns), _encode)

    def groups(path: str, b: Workspace, a: Workspace) -> None:
        d.collection(f"{path}/", "dsg", scope, _named(b.dsgs), _named(a.dsgs), lambda x: _own(x, ("sinks",)), sinks)

    def sinks(path: str, b: DatasetGroup, a: DatasetGroup) -> None:
        d.collection(f"{path}/", "sink", scope, _named(b.sinks, _sink_key), _named(a.sinks, _sink_key), _encode)

    d.collection(
        f"{scope}/",
        "store",
        scope,
        _named(before.datastores if before else []),
        _named(after.datastores if after else []),
        lambda x: _own(x, ("datasets",)),
        datasets,
    )
    d.collection(
        f"{scope}/",
        "workspace",
        scope,
        _named(before.workspaces if before else []),
        _named(after.workspaces if after else []),
        lambda x: _own(x, ("dsgs",)),
        groups,
    )
