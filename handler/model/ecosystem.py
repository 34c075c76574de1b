"""The ecosystem: root of the model and the only object ``createEcosystem()`` returns; and its
canonical JSON form."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from handler.model.base import FlexibleConstructor, ModelObject, definition_of
from handler.model.documentation import Documentation
from handler.model.governance import Datastore, GovernanceZone, GovernanceZoneDeclaration, Team
from handler.model.infrastructure import InfrastructureLocation, InfrastructureVendor
from handler.model.mapping import DSGPlatformMapping
from handler.model.platform import YellowDataPlatform, YellowPlatformServiceProvider
from handler.model.repo import GitHubRepository
from handler.model.workspace import DatasetGroup, Workspace


class Ecosystem(ModelObject, metaclass=FlexibleConstructor, kw_only=True):  # noqa: PLW1641 - mutable: compared, never hashed
    """``Ecosystem(name, repo, governance_zone_declarations=..., data_platforms=... | platform_services_providers=...)``."""

    name: str
    repo: GitHubRepository
    liveRepo: GitHubRepository | None = None
    documentation: Documentation | None = None
    governance_zone_declarations: list[GovernanceZoneDeclaration] = []
    zones: list[GovernanceZone] = []
    infrastructure_vendors: list[InfrastructureVendor] = []
    data_platforms: list[YellowDataPlatform] = []
    dsg_platform_mappings: list[DSGPlatformMapping] = []

    @classmethod
    def _normalize_args(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > 2:
            raise TypeError("Ecosystem() takes name and repo positionally; pass the rest by keyword")
        kwargs.update(zip(("name", "repo")[: len(args)], args, strict=True))
        providers = kwargs.pop("platform_services_providers", None) or []
        platforms = list(kwargs.get("data_platforms") or [])
        for provider in providers:
            if not isinstance(provider, YellowPlatformServiceProvider):
                raise TypeError(
                    "platform_services_providers takes YellowPlatformServiceProvider objects, "
                    f"not {type(provider).__name__}"
                )
            platforms.extend(provider.platforms())
        kwargs["data_platforms"] = platforms
        return kwargs

    # --- lookups used by model code (DataSurface names) -------------------------------------

    def getZoneDeclaration(self, name: str) -> GovernanceZoneDeclaration | None:
        return next((z for z in self.governance_zone_declarations if z.name == name), None)

    def getZone(self, name: str) -> GovernanceZone | None:
        return next((z for z in self.zones if z.name == name), None)

    def getZoneOrThrow(self, name: str) -> GovernanceZone:
        """The zone's definition, created on first use; the zone must be declared."""
        return definition_of(  # type: ignore[no-any-return]
            self.zones,
            self.governance_zone_declarations,
            name,
            GovernanceZone,
            f"ecosystem {self.name!r} declares no governance zone",
        )

    def getDataPlatform(self, name: str) -> YellowDataPlatform | None:
        return next((p for p in self.data_platforms if p.name == name), None)

    def getDataPlatformOrThrow(self, name: str) -> YellowDataPlatform:
        platform = self.getDataPlatform(name)
        if platform is None:
            raise LookupError(f"ecosystem {self.name!r} has no data platform {name!r}")
        return platform

    #: The checks ``lintAndHydrateCaches`` runs, registered by ``handler.lint`` when it is
    #: imported: the model itself knows no checks (lint depends on the model, not back).
    linter: ClassVar[Callable[[Ecosystem], Any] | None] = None

    def lintAndHydrateCaches(self) -> Any:
        """Lint the model, as DataSurface models do at the end of ``createEcosystem``.

        Returns the lint report (``hasErrors()``, ``hasWarnings()``, ``printTree()``).
        """
        if Ecosystem.linter is None:
            raise RuntimeError("lint is not loaded: import handler.lint first (datasurface lint and the sandbox do)")
        return Ecosystem.linter(self)

    # --- canonical form -----------------------------------------------------------------------

    def to_canonical_json(self) -> bytes:
        return to_canonical_json(self)

    def canonical_hash(self) -> str:
        """SHA-256 of the canonical JSON: the identity of the model's content."""
        return hashlib.sha256(self.to_canonical_json()).hexdigest()

    @classmethod
    def from_canonical_json(cls, data: bytes | str) -> Ecosystem:
        return from_canonical_json(data)

    def __eq__(self, other: object) -> bool:
        # By value: the order in which named children were added carries no meaning.
        if not isinstance(other, Ecosystem):
            return NotImplemented
        return self.to_canonical_json() == other.to_canonical_json()


# --- the canonical JSON form ------------------------------------------------------------------
# Sorted keys, named children sorted, no whitespace: the same model always gives the same bytes,
# so two models compare by value by comparing their canonical JSON, and rendering and diffs can
# rely on a stable order. Column order is kept: it is part of a table's meaning.


def _by_name(obj: Any) -> Any:
    return obj.name


_encoder = msgspec.json.Encoder(order="sorted")


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
    return canonicalize(_decoder().decode(data))


@functools.cache
def _decoder() -> msgspec.json.Decoder[Ecosystem]:
    return msgspec.json.Decoder(Ecosystem)
