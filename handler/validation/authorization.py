"""Authorization: every changed object must be owned by the change source (see docs/validation.md).

Owners come from the *base* model where the object's declaration already exists (a pull
request cannot grant itself ownership by editing a declaration), from the head model for
what is declared in the same change:

- ecosystem settings, zone declarations, platforms, mappings: the ecosystem's repository;
- a zone's definition and its team declarations: the zone's repository;
- a team's datastores and workspaces (and everything in them): the team's repository.

Creating a zone or team therefore takes two steps (the parent declares it, then the child
defines it), and so does removing one (the child empties it, then the parent undeclares it).
"""

from __future__ import annotations

from collections.abc import Iterator

from handler.diff import ModelChange
from handler.findings import Finding, error
from handler.model.ecosystem import Ecosystem
from handler.model.repo import GitHubRepository
from handler.validation.source import ChangeSource


def _zone_repo(eco: Ecosystem | None, zone: str) -> GitHubRepository | None:
    decl = eco.getZoneDeclaration(zone) if eco else None
    return decl.repo if decl else None


def _team_repo(eco: Ecosystem | None, zone: str, team: str) -> GitHubRepository | None:
    definition = eco.getZone(zone) if eco else None
    decl = definition.getTeamDeclaration(team) if definition else None
    return decl.repo if decl else None


def owner_of(scope: str, base: Ecosystem | None, head: Ecosystem) -> tuple[GitHubRepository | None, str]:
    """The repository that owns objects of ``scope``, and a description of it for messages."""
    parts = dict(part.split(":", 1) for part in scope.split("/") if ":" in part)
    if "team" in parts:
        zone, team = parts["zone"], parts["team"]
        return (_team_repo(base, zone, team) or _team_repo(head, zone, team)), f"team {team!r} of zone {zone!r}"
    if "zone" in parts:
        zone = parts["zone"]
        return (_zone_repo(base, zone) or _zone_repo(head, zone)), f"zone {zone!r}"
    return (base.repo if base else head.repo), "the ecosystem"


def known_repositories(eco: Ecosystem) -> set[tuple[str, str]]:
    repos = {eco.repo.key}
    for decl in eco.governance_zone_declarations:
        repos.add(decl.repo.key)
    for zone in eco.zones:
        repos.update(t.repo.key for t in zone.team_declarations)
    return repos


def check_authorization(
    source: ChangeSource, base: Ecosystem | None, head: Ecosystem, changes: list[ModelChange]
) -> Iterator[Finding]:
    if base is None:
        if not source.owns(head.repo):
            yield error(
                "auth-initial-checkin",
                "ecosystem",
                f"an initial check-in must come from the ecosystem's repository {head.repo}, not {source}",
            )
        return
    known = known_repositories(base)
    if (source.repository, source.branch) not in known:
        similar = sorted(f"{r}@{b}" for r, b in known if f"{r}@{b}".lower() == str(source).lower())
        hint = f" ({similar[0]} differs only in letter case; repository identity is case-sensitive)" if similar else ""
        yield error(
            "auth-unknown-source",
            "ecosystem",
            f"{source} owns nothing in this ecosystem: it is neither the ecosystem repository nor a declared zone or team repository{hint}",
        )
        return
    for change in changes:
        owner, what = owner_of(change.scope, base, head)
        if owner is None:
            yield error(
                "auth-undeclared",
                change.path,
                f"{change.path} is {change.kind.value} but {what} is not declared, so nobody may change it",
            )
        elif not source.owns(owner):
            near = (
                " (the names differ only in letter case; repository identity is case-sensitive)"
                if (str(owner).lower() == str(source).lower())
                else ""
            )
            yield error(
                "auth-not-owner",
                change.path,
                f"{change.object_type} {change.kind.value} by {source}, but {what} is owned by {owner}{near}",
            )
