"""The ecosystem: root of the model and the only object ``createEcosystem()`` returns."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional

from handler.model.base import FlexibleConstructor, ModelObject, definition_of
from handler.model.documentation import Documentation
from handler.model.governance import GovernanceZone, GovernanceZoneDeclaration
from handler.model.infrastructure import InfrastructureVendor
from handler.model.mapping import DSGPlatformMapping
from handler.model.platform import YellowDataPlatform, YellowPlatformServiceProvider
from handler.model.repo import GitHubRepository


class Ecosystem(ModelObject, metaclass=FlexibleConstructor, kw_only=True):
    """``Ecosystem(name, repo, governance_zone_declarations=..., data_platforms=... | platform_services_providers=...)``."""

    name: str
    repo: GitHubRepository
    liveRepo: Optional[GitHubRepository] = None
    documentation: Optional[Documentation] = None
    governance_zone_declarations: list[GovernanceZoneDeclaration] = []
    zones: list[GovernanceZone] = []
    infrastructure_vendors: list[InfrastructureVendor] = []
    data_platforms: list[YellowDataPlatform] = []
    dsg_platform_mappings: list[DSGPlatformMapping] = []

    @classmethod
    def _normalize_args(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > 2:
            raise TypeError("Ecosystem() takes name and repo positionally; pass the rest by keyword")
        kwargs.update(zip(("name", "repo"), args))
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

    def getZoneDeclaration(self, name: str) -> Optional[GovernanceZoneDeclaration]:
        return next((z for z in self.governance_zone_declarations if z.name == name), None)

    def getZone(self, name: str) -> Optional[GovernanceZone]:
        return next((z for z in self.zones if z.name == name), None)

    def getZoneOrThrow(self, name: str) -> GovernanceZone:
        """The zone's definition, created on first use; the zone must be declared."""
        return definition_of(  # type: ignore[no-any-return]
            self.zones, self.governance_zone_declarations, name, GovernanceZone,
            f"ecosystem {self.name!r} declares no governance zone",
        )

    def getDataPlatform(self, name: str) -> Optional[YellowDataPlatform]:
        return next((p for p in self.data_platforms if p.name == name), None)

    def getDataPlatformOrThrow(self, name: str) -> YellowDataPlatform:
        platform = self.getDataPlatform(name)
        if platform is None:
            raise LookupError(f"ecosystem {self.name!r} has no data platform {name!r}")
        return platform

    #: The checks ``lintAndHydrateCaches`` runs, registered by ``handler.lint`` when it is
    #: imported: the model itself knows no checks (lint depends on the model, not back).
    linter: ClassVar[Optional[Callable[["Ecosystem"], Any]]] = None

    def lintAndHydrateCaches(self) -> Any:
        """Lint the model, as DataSurface models do at the end of ``createEcosystem``.

        Returns the lint report (``hasErrors()``, ``hasWarnings()``, ``printTree()``).
        """
        if Ecosystem.linter is None:
            raise RuntimeError("lint is not loaded: import handler.lint first (datasurface lint and the sandbox do)")
        return Ecosystem.linter(self)

    # --- canonical form -----------------------------------------------------------------------

    def to_canonical_json(self) -> bytes:
        from handler.model.canonical import to_canonical_json

        return to_canonical_json(self)

    @classmethod
    def from_canonical_json(cls, data: bytes | str) -> "Ecosystem":
        from handler.model.canonical import from_canonical_json

        return from_canonical_json(data)

    def __eq__(self, other: object) -> bool:
        # By value: the order in which named children were added carries no meaning.
        if not isinstance(other, Ecosystem):
            return NotImplemented
        return self.to_canonical_json() == other.to_canonical_json()
