"""A workspace's own consumer database: a valid address, a credential its team was granted, never
a merge database. The platform writes that database with the credential, so the same grant chain
as a datastore's applies (handler/lint/credentials.py)."""

from __future__ import annotations

from collections.abc import Iterator

from handler.findings import Finding, error
from handler.lint.credentials import (
    database_key,
    merge_databases,
    platform_credentials,
    reserved_credential,
    team_grants,
)
from handler.lint.platforms import check_credential, check_database
from handler.model import walk
from handler.model.ecosystem import Ecosystem
from handler.model.ingestion import PostgresDatabase, SQLSnapshotIngestion


def check_workspace_databases(eco: Ecosystem) -> Iterator[Finding]:
    reserved = platform_credentials(eco)
    merges = merge_databases(eco)
    grants = team_grants(eco)
    for team_path, zone, team in walk.teams(eco):
        for workspace in team.workspaces:
            db = workspace.container
            if not isinstance(db, PostgresDatabase):
                continue
            path = f"{team_path}/workspace:{workspace.name}"
            yield from check_database(path, db)
            if db.credential is None:
                yield error(
                    "workspace-database-credential",
                    path,
                    f"workspace {workspace.name!r} has its own database {db.name!r} but no credential for the "
                    "platform to write it with",
                )
            elif db.credential.name in reserved:
                yield reserved_credential(path, db.credential.name, reserved[db.credential.name])
            elif db.credential.name not in grants.get((zone.name, team.name), set()):
                yield error(
                    "credential-not-granted",
                    path,
                    f"workspace {workspace.name!r} names credential {db.credential.name!r} for its database, which "
                    f"zone {zone.name!r} has not granted to team {team.name!r}",
                )
            yield from check_credential(path, db.credential)
            platform = merges.get(database_key(db))
            if platform is not None:
                yield error(
                    "workspace-database-merge",
                    path,
                    f"workspace {workspace.name!r} names {db.databaseName!r} on {db.hostPort.hostName}, the merge "
                    f"database of platform {platform!r}, as its own database",
                )
    for path, store in walk.datastores(eco):
        capture = store.capture_metadata
        if isinstance(capture, SQLSnapshotIngestion) and capture.dataContainer.credential is not None:
            yield error(
                "workspace-database-credential",
                path,
                f"the database of datastore {store.name!r} names a credential; a datastore's credential belongs "
                "to its SQLSnapshotIngestion",
            )
