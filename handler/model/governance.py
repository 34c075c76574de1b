"""Producers: governance zones, teams, datastores and datasets."""

from __future__ import annotations

from typing import Any

from handler.model.base import ModelObject, definition_of
from handler.model.credential import Credential
from handler.model.documentation import DOCUMENTATION_TYPES, Documentation
from handler.model.ingestion import CaptureMetadata
from handler.model.policy import SimpleDC
from handler.model.repo import GitHubRepository
from handler.model.schema import DDLTable
from handler.model.workspace import Workspace


class Dataset(ModelObject):
    name: str
    schema: DDLTable
    classifications: list[SimpleDC] = []
    documentation: Documentation | None = None


class Datastore(ModelObject):
    name: str
    capture_metadata: CaptureMetadata | None = None
    datasets: list[Dataset] = []
    documentation: Documentation | None = None

    def add(self, *datasets: Dataset) -> None:
        for dataset in datasets:
            if not isinstance(dataset, Dataset):
                raise TypeError(f"Datastore.add() takes Dataset objects, not {type(dataset).__name__}")
            self.datasets.append(dataset)

    def getDataset(self, name: str) -> Dataset | None:
        return next((d for d in self.datasets if d.name == name), None)


class TeamDeclaration(ModelObject):
    """A zone declares a team and names the repository that owns the team's contents.

    ``credentials`` are the secrets the zone grants the team (from those granted to the zone):
    the only ones the team's datastores may read producer databases with.
    """

    name: str
    repo: GitHubRepository
    documentation: Documentation | None = None
    credentials: list[Credential] = []


class Team(ModelObject):
    """A team's definition; its repository is the one its zone's declaration names."""

    name: str
    datastores: list[Datastore] = []
    workspaces: list[Workspace] = []
    documentation: Documentation | None = None

    def add(self, *items: Any) -> None:
        """Add datastores, workspaces and documentation, as DataSurface's ``Team.add``."""
        for item in items:
            if isinstance(item, Datastore):
                self.datastores.append(item)
            elif isinstance(item, Workspace):
                self.workspaces.append(item)
            elif isinstance(item, DOCUMENTATION_TYPES):
                self.documentation = item
            else:
                raise TypeError(f"Team.add() takes Datastore, Workspace or documentation, not {type(item).__name__}")

    def getStore(self, name: str) -> Datastore | None:
        return next((s for s in self.datastores if s.name == name), None)


class GovernanceZoneDeclaration(ModelObject):
    """The ecosystem declares a zone and names the repository that owns the zone's contents.

    ``credentials`` are the secrets the ecosystem grants the zone: the zone may grant them on to
    its teams, and nothing else.
    """

    name: str
    repo: GitHubRepository
    documentation: Documentation | None = None
    credentials: list[Credential] = []


class GovernanceZone(ModelObject):
    name: str
    team_declarations: list[TeamDeclaration] = []
    teams: list[Team] = []
    documentation: Documentation | None = None

    def add(self, *items: Any) -> None:
        """Declare teams (and set documentation), as DataSurface's ``GovernanceZone.add``."""
        for item in items:
            if isinstance(item, TeamDeclaration):
                self.team_declarations.append(item)
            elif isinstance(item, DOCUMENTATION_TYPES):
                self.documentation = item
            else:
                raise TypeError(
                    f"GovernanceZone.add() takes TeamDeclaration or documentation, not {type(item).__name__}"
                )

    def getTeamDeclaration(self, name: str) -> TeamDeclaration | None:
        return next((t for t in self.team_declarations if t.name == name), None)

    def getTeam(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def getTeamOrThrow(self, name: str) -> Team:
        """The team's definition, created on first use; the team must be declared in this zone."""
        return definition_of(  # type: ignore[no-any-return]
            self.teams, self.team_declarations, name, Team, f"zone {self.name!r} declares no team"
        )
