"""Credentials and databases belong to their owners.

Ownership by repository covers model objects, not the secrets and databases they point at: a
team could otherwise name any secret of the platform namespace (another team's producer
credential, the platform's own) or point its ingestion at the merge database. So secrets are
granted down the same chain as the model itself: the ecosystem grants credentials to a zone
(``GovernanceZoneDeclaration(..., credentials=[...])``, owned by the ecosystem's repository),
the zone grants some of them to a team (``TeamDeclaration(..., credentials=[...])``, owned by the
zone's repository), and a team's datastores may use only what their team was granted. The
platforms' own credentials can never be granted or named by a datastore, and no datastore may
read a platform's merge database.
"""

from __future__ import annotations

from collections.abc import Iterator

from handler.findings import Finding, error
from handler.model import walk
from handler.model.ecosystem import Ecosystem
from handler.model.ingestion import PostgresDatabase, SQLSnapshotIngestion


def check_credentials(eco: Ecosystem) -> Iterator[Finding]:
    reserved = platform_credentials(eco)
    yield from _check_grants(eco, reserved)
    grants = team_grants(eco)
    merges = merge_databases(eco)
    for team_path, zone, team in walk.teams(eco):
        granted = grants.get((zone.name, team.name), set())
        for store in team.datastores:
            capture = store.capture_metadata
            if isinstance(capture, SQLSnapshotIngestion):
                yield from _check_store(f"{team_path}/store:{store.name}", store.name, capture, reserved, merges)
                yield from _check_not_granted(
                    f"{team_path}/store:{store.name}", store.name, capture, granted, reserved, zone.name, team.name
                )


def _check_grants(eco: Ecosystem, reserved: dict[str, str]) -> Iterator[Finding]:
    """What the ecosystem grants zones, and zones grant teams."""
    zone_grants = {decl.name: {c.name for c in decl.credentials} for decl in eco.governance_zone_declarations}
    for zone_decl in eco.governance_zone_declarations:
        for credential in zone_decl.credentials:
            if credential.name in reserved:
                yield reserved_credential(
                    f"zone-declaration:{zone_decl.name}", credential.name, reserved[credential.name]
                )
    for zone in eco.zones:
        for team_decl in zone.team_declarations:
            path = f"zone:{zone.name}/team-declaration:{team_decl.name}"
            for credential in team_decl.credentials:
                if credential.name in reserved:
                    yield reserved_credential(path, credential.name, reserved[credential.name])
                elif credential.name not in zone_grants.get(zone.name, set()):
                    yield error(
                        "credential-grant-invalid",
                        path,
                        f"zone {zone.name!r} grants credential {credential.name!r} to team {team_decl.name!r}, but the "
                        f"ecosystem has not granted it to the zone",
                    )


def _check_store(
    path: str,
    store: str,
    capture: SQLSnapshotIngestion,
    reserved: dict[str, str],
    merges: dict[tuple[str, int, str], str],
) -> Iterator[Finding]:
    if capture.credential.name in reserved:
        yield reserved_credential(path, capture.credential.name, reserved[capture.credential.name])
    platform = merges.get(database_key(capture.dataContainer))
    if platform is not None:
        yield error(
            "capture-merge-database",
            path,
            f"datastore {store!r} would ingest from {capture.dataContainer.databaseName!r} on "
            f"{capture.dataContainer.hostPort.hostName}, the merge database of platform {platform!r}",
        )


def _check_not_granted(
    path: str,
    store: str,
    capture: SQLSnapshotIngestion,
    granted: set[str],
    reserved: dict[str, str],
    zone: str,
    team: str,
) -> Iterator[Finding]:
    name = capture.credential.name
    if name not in reserved and name not in granted:
        yield error(
            "credential-not-granted",
            path,
            f"datastore {store!r} reads its database with credential {name!r}, which zone {zone!r} has not granted "
            f"to team {team!r}",
        )


def team_grants(eco: Ecosystem) -> dict[tuple[str, str], set[str]]:
    """(zone, team) -> the names of the credentials the zone granted the team."""
    return {
        (zone.name, decl.name): {c.name for c in decl.credentials}
        for zone in eco.zones
        for decl in zone.team_declarations
    }


def platform_credentials(eco: Ecosystem) -> dict[str, str]:
    """Credential name -> the platform that owns it."""
    owned: dict[str, str] = {}
    for platform in eco.data_platforms:
        for credential in (platform.postgresCredential, platform.gitCredential):
            if credential is not None:
                owned.setdefault(credential.name, platform.name)
    return owned


def database_key(db: PostgresDatabase) -> tuple[str, int, str]:
    return (db.hostPort.hostName.lower().rstrip("."), db.hostPort.port, db.databaseName)


def merge_databases(eco: Ecosystem) -> dict[tuple[str, int, str], str]:
    return {
        database_key(platform.merge_datacontainer): platform.name
        for platform in eco.data_platforms
        if platform.merge_datacontainer is not None
    }


def reserved_credential(path: str, credential: str, platform: str) -> Finding:
    return error(
        "credential-platform-reserved",
        path,
        f"credential {credential!r} belongs to platform {platform!r}: no zone, team or datastore may use it",
    )
