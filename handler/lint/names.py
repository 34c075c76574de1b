"""Names: SQL-safe identifiers, no reserved words, unique where they are looked up."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from handler.findings import Finding, error
from handler.lint.sql_reserved import RESERVED_COLUMN_PREFIX, RESERVED_WORDS
from handler.model import walk
from handler.model.ecosystem import Ecosystem

MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_identifier(path: str, what: str, name: str) -> Iterator[Finding]:
    if not _IDENTIFIER.match(name) or len(name) > MAX_IDENTIFIER:
        yield error(
            "identifier-invalid",
            path,
            f"{what} name {name!r} is not SQL-safe: use a letter or _, then letters, digits or _, at most {MAX_IDENTIFIER} characters",
        )
    elif name.lower() in RESERVED_WORDS:
        yield error("identifier-reserved", path, f"{what} name {name!r} is an SQL reserved word")


def duplicates(
    path: str, what: str, items: Iterable[Any], key: Callable[[Any], str] = lambda x: x.name
) -> Iterator[Finding]:
    counts = Counter(key(item) for item in items)
    for name, count in sorted(counts.items()):
        if count > 1:
            yield error("name-duplicate", f"{path}{name}", f"{count} {what}s are named {name!r}")


def check_names(eco: Ecosystem) -> Iterator[Finding]:
    yield from check_identifier("ecosystem", "ecosystem", eco.name)
    yield from duplicates("ecosystem/zone-declaration:", "zone declaration", eco.governance_zone_declarations)
    yield from duplicates("zone:", "zone definition", eco.zones)
    yield from duplicates("platform:", "data platform", eco.data_platforms)
    for decl in eco.governance_zone_declarations:
        yield from check_identifier(f"zone:{decl.name}", "zone", decl.name)
    for platform in eco.data_platforms:
        yield from check_identifier(walk.platform_path(platform.name), "platform", platform.name)
    for zone in eco.zones:
        zpath = walk.zone_path(zone)
        yield from duplicates(f"{zpath}/team-declaration:", "team declaration", zone.team_declarations)
        yield from duplicates(f"{zpath}/team:", "team definition", zone.teams)
        for team_decl in zone.team_declarations:
            yield from check_identifier(f"{zpath}/team:{team_decl.name}", "team", team_decl.name)
    # Sinks name a store without its team, and views are per workspace: both unique ecosystem-wide.
    yield from duplicates("store:", "datastore", (s for _, s in walk.datastores(eco)))
    yield from duplicates("workspace:", "workspace", (w for _, w in walk.workspaces(eco)))
    for store_path, store in walk.datastores(eco):
        yield from check_identifier(store_path, "datastore", store.name)
        yield from duplicates(f"{store_path}/dataset:", "dataset", store.datasets)
    for dataset_path, _store, dataset in walk.datasets(eco):
        yield from check_identifier(dataset_path, "dataset", dataset.name)
        yield from _check_columns(dataset_path, dataset.schema.columns)
    for ws_path, workspace in walk.workspaces(eco):
        yield from check_identifier(ws_path, "workspace", workspace.name)
        yield from duplicates(f"{ws_path}/dsg:", "dataset group", workspace.dsgs)
        for group in workspace.dsgs:
            dsg_path = f"{ws_path}/dsg:{group.name}"
            yield from check_identifier(dsg_path, "dataset group", group.name)
            yield from duplicates(
                f"{dsg_path}/sink:", "sink", group.sinks, key=lambda s: f"{s.storeName}.{s.datasetName}"
            )


def _check_columns(dataset_path: str, columns: list) -> Iterator[Finding]:  # type: ignore[type-arg]
    seen: dict[str, str] = {}
    for column in columns:
        name = column.name
        path = f"{dataset_path}/column:{name}"
        if not _IDENTIFIER.match(name) or len(name) > MAX_IDENTIFIER or name.lower() in RESERVED_WORDS:
            yield from check_identifier(path, "column", name)
        elif name.lower().startswith(RESERVED_COLUMN_PREFIX):
            yield error(
                "identifier-reserved",
                path,
                f"column name {name!r} uses the prefix {RESERVED_COLUMN_PREFIX!r} reserved for DataSurface's own columns",
            )
        folded = name.lower()
        if folded in seen:
            same = "" if seen[folded] == name else f" (differs only in letter case from {seen[folded]!r})"
            yield error("name-duplicate", path, f"column {name!r} appears twice{same}")
        else:
            seen[folded] = name
