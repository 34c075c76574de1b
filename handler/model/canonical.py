"""The canonical JSON form of a model: sorted keys, named children sorted, no whitespace.

The same model always gives the same bytes, so two models compare by value by comparing
their canonical JSON, and rendering and diffs can rely on a stable order. Column order is
kept: it is part of a table's meaning.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from handler.model.ecosystem import Ecosystem
from handler.model.governance import Datastore, GovernanceZone, Team
from handler.model.infrastructure import InfrastructureLocation
from handler.model.workspace import DatasetGroup, Workspace

_by_name: Callable[[Any], Any] = lambda obj: obj.name  # noqa: E731

_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(Ecosystem)


def _sort_locations(locations: list[InfrastructureLocation]) -> None:
    locations.sort(key=_by_name)
    for location in locations:
        _sort_locations(location.locations)


def canonicalize(eco: Ecosystem) -> Ecosystem:
    """Sort every collection of named children in place (stable, so duplicates stay visible)."""
    eco.governance_zone_declarations.sort(key=_by_name)
    eco.zones.sort(key=_by_name)
    eco.data_platforms.sort(key=_by_name)
    eco.infrastructure_vendors.sort(key=_by_name)
    eco.dsg_platform_mappings.sort(key=lambda m: (m.workspace, m.dsgName))
    for mapping in eco.dsg_platform_mappings:
        mapping.assignments.sort(key=lambda a: a.dataPlatform)
    for vendor in eco.infrastructure_vendors:
        _sort_locations(vendor.locations)
    for zone in eco.zones:
        _canonicalize_zone(zone)
    return eco


def _canonicalize_zone(zone: GovernanceZone) -> None:
    zone.team_declarations.sort(key=_by_name)
    zone.teams.sort(key=_by_name)
    for team in zone.teams:
        _canonicalize_team(team)


def _canonicalize_team(team: Team) -> None:
    team.datastores.sort(key=_by_name)
    team.workspaces.sort(key=_by_name)
    store: Datastore
    for store in team.datastores:
        store.datasets.sort(key=_by_name)
    workspace: Workspace
    for workspace in team.workspaces:
        workspace.dsgs.sort(key=_by_name)
        group: DatasetGroup
        for group in workspace.dsgs:
            group.sinks.sort(key=lambda s: (s.storeName, s.datasetName))


def to_canonical_json(eco: Ecosystem) -> bytes:
    return _encoder.encode(canonicalize(eco))


def from_canonical_json(data: bytes | str) -> Ecosystem:
    """Decode and check every field's type; raises ``msgspec.ValidationError`` naming the JSON path."""
    return canonicalize(_decoder.decode(data))
