"""Render benchmark: a model with 1,000 ingestion streams; prints time and file count.

Streams: 1,000 datastores of 2 datasets (20 columns each), all consumed by a live group, so the
live platform runs 1,000 CronWorkflows. The baseline, measured in the same run, is rendering
the MVP template (2 streams).

    python bench/render_scale.py [--streams 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handler.loading.loader import read_mapping_file  # noqa: E402
from handler.model import (  # noqa: E402
    ConsumerRetentionRequirements,
    Credential,
    CredentialType,
    CronTrigger,
    DataMilestoningStrategy,
    Dataset,
    DatasetGroup,
    DatasetSink,
    Datastore,
    DDLColumn,
    DDLTable,
    Ecosystem,
    GitHubRepository,
    GovernanceZoneDeclaration,
    HostPortPair,
    IngestionConsistencyType,
    NullableStatus,
    PostgresDatabase,
    PrimaryKeyStatus,
    SimpleDC,
    SimpleDCTypes,
    SQLSnapshotIngestion,
    TeamDeclaration,
    VarChar,
    Workspace,
    WorkspacePlatformConfig,
    YellowDataPlatform,
    YellowMilestoneStrategy,
)
from handler.model.mapping import DSGPlatformAssignment, DSGPlatformMapping  # noqa: E402
from handler.render import render_tree  # noqa: E402


def big_model(streams: int) -> Ecosystem:
    merge = PostgresDatabase("Merge", hostPort=HostPortPair("merge", 5432), databaseName="merge")
    cred = Credential("postgres-merge", CredentialType.USER_PASSWORD)
    eco = Ecosystem(
        "Big",
        GitHubRepository("acme/big", "main"),
        governance_zone_declarations=[GovernanceZoneDeclaration("Z", GitHubRepository("acme/big", "z"))],
        data_platforms=[
            YellowDataPlatform("Live", YellowMilestoneStrategy.SCD1, merge_datacontainer=merge, postgresCredential=cred)
        ],
    )
    zone = eco.getZoneOrThrow("Z")
    zone.add(TeamDeclaration("t", GitHubRepository("acme/big", "t")))
    team = zone.getTeamOrThrow("t")
    sinks = []
    for s in range(streams):
        capture = SQLSnapshotIngestion(
            PostgresDatabase("Src", hostPort=HostPortPair("src", 5432), databaseName="src"),
            CronTrigger("m", "*/1 * * * *"),
            IngestionConsistencyType.MULTI_DATASET,
            Credential("postgres-src", CredentialType.USER_PASSWORD),
        )
        store = Datastore(f"store{s}", capture)
        for d in range(2):
            cols = [DDLColumn("id", VarChar(20), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK)]
            cols += [DDLColumn(f"c{c}", VarChar(50)) for c in range(19)]
            store.add(Dataset(f"d{d}", DDLTable(cols), [SimpleDC(SimpleDCTypes.PUB)]))
            sinks.append(DatasetSink(f"store{s}", f"d{d}"))
        team.add(store)
    team.add(
        Workspace(
            "W",
            DatasetGroup(
                "G", sinks, WorkspacePlatformConfig(ConsumerRetentionRequirements(DataMilestoningStrategy.LIVE_ONLY))
            ),
        )
    )
    eco.dsg_platform_mappings = [
        DSGPlatformMapping(dsgName="G", workspace="W", assignments=[DSGPlatformAssignment(dataPlatform="Live")])
    ]
    return eco


def template_model() -> Ecosystem:
    import importlib.util

    spec = importlib.util.spec_from_file_location("eco", ROOT / "handler" / "model_repo_template" / "eco.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    eco: Ecosystem = module.createEcosystem()
    eco.dsg_platform_mappings = read_mapping_file(ROOT / "handler" / "model_repo_template")[0]
    return eco


def timed(eco: Ecosystem, repeat: int) -> tuple[float, int, int]:
    times = []
    files: dict[str, bytes] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        files = render_tree(eco)
        times.append(time.perf_counter() - started)
    return statistics.median(times), len(files), sum(len(v) for v in files.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base_s, base_files, _ = timed(template_model(), args.repeat)
    print(f"baseline: MVP template render {base_s:.3f} s, {base_files} files")
    seconds, count, size = timed(big_model(args.streams), args.repeat)
    print(
        f"{args.streams} streams: render {seconds:.3f} s, {count} files, {size / 2**20:.1f} MiB "
        f"({seconds / base_s:.0f}x baseline, {seconds / args.streams * 1000:.2f} ms per stream; target < 2 s)"
    )


if __name__ == "__main__":
    main()
