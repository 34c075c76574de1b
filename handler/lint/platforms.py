"""Capture, platforms and infrastructure references: schedules, databases, credentials, repos."""

from __future__ import annotations

import re
from collections.abc import Iterator

from croniter import croniter

from handler.findings import Finding, error, warning
from handler.model import walk
from handler.model.credential import Credential
from handler.model.ecosystem import Ecosystem
from handler.model.ingestion import CronTrigger, PostgresDatabase
from handler.model.repo import GitHubRepository

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+\Z")
_BRANCH = re.compile(r"(?!/|-|.*(\.\.|//|@\{|\.lock\Z|/\Z|\.\Z))[A-Za-z0-9._/-]+\Z")
_SQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_problem(expression: str) -> str | None:
    if expression.strip() in _CRON_MACROS:
        return None
    fields = expression.split()
    if len(fields) != 5:
        return f"has {len(fields)} fields, expected 5 (minute hour day-of-month month day-of-week)"
    if not croniter.is_valid(expression):
        return "is not a valid cron expression"
    return None


def _check_cron(path: str, trigger: CronTrigger | None) -> Iterator[Finding]:
    if trigger is not None:
        problem = cron_problem(trigger.cron)
        if problem:
            yield error("cron-invalid", path, f"schedule {trigger.cron!r} {problem}")


def check_credential(path: str, credential: Credential | None) -> Iterator[Finding]:
    if credential is not None and (not _DNS_SUBDOMAIN.match(credential.name) or len(credential.name) > 253):
        yield error(
            "credential-name-invalid",
            path,
            f"credential {credential.name!r} must name a Kubernetes secret: lower-case letters, digits, '-' and '.'",
        )


def check_database(path: str, db: PostgresDatabase) -> Iterator[Finding]:
    if not db.hostPort.hostName.strip():
        yield error("database-invalid", path, f"database {db.name!r} has no host name")
    if not 0 < db.hostPort.port < 65536:
        yield error("database-invalid", path, f"database {db.name!r} has port {db.hostPort.port}, expected 1-65535")
    if not _SQL_NAME.match(db.databaseName) or len(db.databaseName) > 63:
        yield error("database-invalid", path, f"database name {db.databaseName!r} is not SQL-safe")


def _check_repo(path: str, repo: GitHubRepository) -> Iterator[Finding]:
    if not _REPO.match(repo.repositoryName):
        yield error("repo-invalid", path, f"repository {repo.repositoryName!r} is not of the form owner/name")
    if not _BRANCH.match(repo.branchName):
        yield error("repo-invalid", path, f"branch {repo.branchName!r} is not a valid branch name")


def check_platforms_and_capture(eco: Ecosystem) -> Iterator[Finding]:
    yield from _check_repo("ecosystem", eco.repo)
    if eco.liveRepo is not None:
        yield from _check_repo("ecosystem", eco.liveRepo)
    for decl in eco.governance_zone_declarations:
        yield from _check_repo(f"zone:{decl.name}", decl.repo)
    for zone in eco.zones:
        for team_decl in zone.team_declarations:
            yield from _check_repo(f"zone:{zone.name}/team:{team_decl.name}", team_decl.repo)
    for path, store in walk.datastores(eco):
        capture = store.capture_metadata
        if capture is None:
            yield warning(
                "datastore-no-ingestion",
                path,
                f"datastore {store.name!r} has no capture_metadata; no platform can ingest it",
            )
            continue
        yield from _check_cron(path, capture.trigger)
        yield from check_credential(path, capture.credential)
        yield from check_database(path, capture.dataContainer)
    for platform in eco.data_platforms:
        path = walk.platform_path(platform.name)
        yield from _check_cron(path, platform.schedule)
        yield from check_credential(path, platform.postgresCredential)
        yield from check_credential(path, platform.gitCredential)
        if platform.merge_datacontainer is None:
            yield error(
                "platform-config",
                path,
                f"platform {platform.name!r} has no merge_datacontainer (the database it merges into)",
            )
        else:
            yield from check_database(path, platform.merge_datacontainer)
        if platform.postgresCredential is None:
            yield error(
                "platform-config", path, f"platform {platform.name!r} has no postgresCredential for its merge database"
            )
        namespace = platform.namespace or ""
        if not _DNS_LABEL.match(namespace) or len(namespace) > 63:
            yield error("platform-config", path, f"namespace {namespace!r} is not a valid Kubernetes namespace name")
