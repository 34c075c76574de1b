"""Structure: declarations before definitions, sinks and mappings that resolve."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from handler.findings import Finding, error, warning
from handler.model import walk
from handler.model.ecosystem import Ecosystem


def check_declarations(eco: Ecosystem) -> Iterator[Finding]:
    declared_zones = {z.name for z in eco.governance_zone_declarations}
    for zone in eco.zones:
        if zone.name not in declared_zones:
            yield error(
                "zone-undeclared",
                walk.zone_path(zone),
                f"zone {zone.name!r} is defined but the ecosystem does not declare it",
            )
        declared_teams = {t.name for t in zone.team_declarations}
        for team in zone.teams:
            if team.name not in declared_teams:
                yield error(
                    "team-undeclared",
                    f"zone:{zone.name}/team:{team.name}",
                    f"team {team.name!r} is defined but zone {zone.name!r} does not declare it",
                )


def check_sinks(eco: Ecosystem) -> Iterator[Finding]:
    stores = {store.name: store for _, store in walk.datastores(eco)}
    for dsg_path, _workspace, group in walk.dataset_groups(eco):
        if not group.sinks:
            yield warning("dsg-empty", dsg_path, f"dataset group {group.name!r} has no sinks")
        if group.platform_chooser is None:
            yield error(
                "dsg-retention-missing",
                dsg_path,
                f"dataset group {group.name!r} does not say whether it needs LIVE_ONLY or FORENSIC data",
            )
        for sink in group.sinks:
            sink_path = f"{dsg_path}/sink:{sink.storeName}.{sink.datasetName}"
            store = stores.get(sink.storeName)
            if store is None:
                yield error("reference-unresolved", sink_path, f"no datastore is named {sink.storeName!r}")
            elif store.getDataset(sink.datasetName) is None:
                yield error(
                    "reference-unresolved",
                    sink_path,
                    f"datastore {sink.storeName!r} has no dataset {sink.datasetName!r}",
                )


def check_mappings(eco: Ecosystem) -> Iterator[Finding]:
    groups = {(ws.name, g.name): (path, g) for path, ws, g in walk.dataset_groups(eco)}
    workspaces = {ws.name for _, ws in walk.workspaces(eco)}
    platforms = {p.name: p for p in eco.data_platforms}
    counts = Counter((m.workspace, m.dsgName) for m in eco.dsg_platform_mappings)
    assigned: set[tuple[str, str]] = set()
    for mapping in eco.dsg_platform_mappings:
        key = (mapping.workspace, mapping.dsgName)
        path = walk.mapping_path(*key)
        if counts[key] > 1:
            yield error(
                "mapping-duplicate", path, f"workspace {key[0]!r} group {key[1]!r} is mapped {counts.pop(key)} times"
            )
        if mapping.workspace not in workspaces:
            yield error("mapping-reference", path, f"no workspace is named {mapping.workspace!r}")
            continue
        if key not in groups:
            yield error(
                "mapping-reference", path, f"workspace {mapping.workspace!r} has no dataset group {mapping.dsgName!r}"
            )
            continue
        group = groups[key][1]
        for platform_name, count in Counter(a.dataPlatform for a in mapping.assignments).items():
            if count > 1:
                yield error("mapping-duplicate", path, f"platform {platform_name!r} is assigned {count} times")
        for assignment in mapping.assignments:
            platform = platforms.get(assignment.dataPlatform)
            if platform is None:
                yield error("mapping-reference", path, f"no data platform is named {assignment.dataPlatform!r}")
                continue
            if not assignment.is_active:
                continue
            assigned.add(key)
            if (
                group.platform_chooser is not None
                and group.platform_chooser.hist.r != platform.milestoneStrategy.serves
            ):
                yield error(
                    "platform-milestone-mismatch",
                    path,
                    f"group {group.name!r} needs {group.platform_chooser.hist.r.value} data but platform {platform.name!r} "
                    f"is {platform.milestoneStrategy.value} and serves {platform.milestoneStrategy.serves.value}",
                )
    for key, (dsg_path, _group) in groups.items():
        if key not in assigned:
            yield warning(
                "dsg-unassigned",
                dsg_path,
                f"dataset group {key[1]!r} of workspace {key[0]!r} is not assigned to any platform",
            )
