"""Traversal of an ecosystem with the model path of every object."""

from __future__ import annotations

from collections.abc import Iterator

from handler.model.ecosystem import Ecosystem
from handler.model.governance import Dataset, Datastore, GovernanceZone, Team
from handler.model.workspace import DatasetGroup, Workspace


def zone_path(zone: GovernanceZone) -> str:
    return f"zone:{zone.name}"


def teams(eco: Ecosystem) -> Iterator[tuple[str, GovernanceZone, Team]]:
    for zone in eco.zones:
        for team in zone.teams:
            yield f"zone:{zone.name}/team:{team.name}", zone, team


def datastores(eco: Ecosystem) -> Iterator[tuple[str, Datastore]]:
    for team_path, _zone, team in teams(eco):
        for store in team.datastores:
            yield f"{team_path}/store:{store.name}", store


def datasets(eco: Ecosystem) -> Iterator[tuple[str, Datastore, Dataset]]:
    for store_path, store in datastores(eco):
        for dataset in store.datasets:
            yield f"{store_path}/dataset:{dataset.name}", store, dataset


def workspaces(eco: Ecosystem) -> Iterator[tuple[str, Workspace]]:
    for team_path, _zone, team in teams(eco):
        for workspace in team.workspaces:
            yield f"{team_path}/workspace:{workspace.name}", workspace


def dataset_groups(eco: Ecosystem) -> Iterator[tuple[str, Workspace, DatasetGroup]]:
    for ws_path, workspace in workspaces(eco):
        for group in workspace.dsgs:
            yield f"{ws_path}/dsg:{group.name}", workspace, group


def platform_path(name: str) -> str:
    return f"platform:{name}"


def mapping_path(workspace: str, dsg: str) -> str:
    return f"mapping:{workspace}/{dsg}"
