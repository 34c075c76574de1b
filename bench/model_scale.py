"""Model scale benchmark: sandboxed load and lint time for models of 1k, 10k and 50k datasets.

Each generated model has 20 columns per dataset, 100 datasets per datastore, one team per 10
datastores, and a workspace per team consuming every dataset of the team in a live and a
forensic group, all assigned in dsg_platform_mapping.json. The baseline, measured in the same
run, is the sandbox round trip of the MVP template (process start, imports, Landlock).

    python bench/model_scale.py [--sizes 1000,10000,50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from handler.lint import lint
from handler.loading import SandboxLimits, load_model

ROOT = Path(__file__).resolve().parent.parent
DATASETS_PER_STORE = 100
STORES_PER_TEAM = 10

ECO_TEMPLATE = '''
from handler.model import *

N_DATASETS = {n}
PER_STORE = {per_store}
PER_TEAM = {per_team}
PK = dict(nullable=NullableStatus.NOT_NULLABLE, primary_key=PrimaryKeyStatus.PK)
TYPES = [VarChar(100), Integer(), Date(), Decimal(18, 2), Timestamp(), BigInt(), String(), Boolean()]


def columns(i):
    cols = [DDLColumn("id", VarChar(20), **PK)]
    for c in range(19):
        cols.append(DDLColumn(f"col_{{c}}_{{i % 7}}", TYPES[(i + c) % len(TYPES)]))
    return cols


def createEcosystem():
    repo = GitHubRepository("acme/big-model", "main")
    merge = PostgresDatabase("Merge", hostPort=HostPortPair("merge", 5432), databaseName="merge")
    cred = Credential("postgres-merge", CredentialType.USER_PASSWORD)
    eco = Ecosystem(
        name="Big", repo=repo,
        governance_zone_declarations=[GovernanceZoneDeclaration("Zone", GitHubRepository("acme/big-model", "zone"))],
        data_platforms=[
            YellowDataPlatform("Live", YellowMilestoneStrategy.SCD1, merge_datacontainer=merge, postgresCredential=cred),
            YellowDataPlatform("Forensic", YellowMilestoneStrategy.SCD2, merge_datacontainer=merge, postgresCredential=cred),
        ],
    )
    zone = eco.getZoneOrThrow("Zone")
    n_stores = (N_DATASETS + PER_STORE - 1) // PER_STORE
    for t in range((n_stores + PER_TEAM - 1) // PER_TEAM):
        zone.add(TeamDeclaration(f"team{{t}}", GitHubRepository("acme/big-model", f"team{{t}}")))
        team = zone.getTeamOrThrow(f"team{{t}}")
        sinks = []
        for s in range(t * PER_TEAM, min(n_stores, (t + 1) * PER_TEAM)):
            store = Datastore(
                f"store{{s}}",
                capture_metadata=SQLSnapshotIngestion(
                    PostgresDatabase("Src", hostPort=HostPortPair("src", 5432), databaseName=f"src{{s}}"),
                    CronTrigger("every minute", "*/1 * * * *"),
                    IngestionConsistencyType.MULTI_DATASET,
                    Credential("postgres-src", CredentialType.USER_PASSWORD),
                ),
            )
            for d in range(s * PER_STORE, min(N_DATASETS, (s + 1) * PER_STORE)):
                store.add(Dataset(f"dataset{{d}}", DDLTable(columns(d)), [SimpleDC(SimpleDCTypes.PC1)]))
                sinks.append(DatasetSink(f"store{{s}}", f"dataset{{d}}"))
            team.add(store)
        team.add(Workspace(
            f"ws{{t}}",
            DatasetGroup("live", sinks, WorkspacePlatformConfig(ConsumerRetentionRequirements(DataMilestoningStrategy.LIVE_ONLY))),
            DatasetGroup("hist", sinks, WorkspacePlatformConfig(ConsumerRetentionRequirements(DataMilestoningStrategy.FORENSIC))),
        ))
    return eco
'''


def write_model(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    (folder / "eco.py").write_text(ECO_TEMPLATE.format(n=n, per_store=DATASETS_PER_STORE, per_team=STORES_PER_TEAM))
    teams = (((n + DATASETS_PER_STORE - 1) // DATASETS_PER_STORE) + STORES_PER_TEAM - 1) // STORES_PER_TEAM
    mapping = []
    for t in range(teams):
        mapping.append({"dsgName": "live", "workspace": f"ws{t}", "assignments": [{"dataPlatform": "Live", "status": "PROVISIONED"}]})
        mapping.append({"dsgName": "hist", "workspace": f"ws{t}", "assignments": [{"dataPlatform": "Forensic", "status": "PROVISIONED"}]})
    (folder / "dsg_platform_mapping.json").write_text(json.dumps(mapping))


def measure(folder: Path, limits: SandboxLimits, repeat: int) -> tuple[float, float, int]:
    loads, lints = [], []
    findings = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = load_model(folder, limits)
        loads.append(time.perf_counter() - started)
        if result.ecosystem is None:
            raise SystemExit(f"{folder} did not load: {result.findings}")
        started = time.perf_counter()
        findings = len(lint(result.ecosystem))
        lints.append(time.perf_counter() - started)
    return statistics.median(loads), statistics.median(lints), findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    limits = SandboxLimits(wall_seconds=300, cpu_seconds=300, memory_mb=8192)
    base_load, base_lint, _ = measure(ROOT / "model_repo_template", limits, args.repeat)
    print(f"baseline: MVP template (2 datasets) load {base_load:.3f} s, lint {base_lint * 1000:.1f} ms")
    print(f"{'datasets':>9} {'columns':>9} {'load s':>8} {'lint s':>8} {'total s':>8} {'x baseline':>10} {'findings':>8}")
    with tempfile.TemporaryDirectory(prefix="datasurface-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            folder = Path(tmp) / f"model-{n}"
            write_model(folder, n)
            load_s, lint_s, findings = measure(folder, limits, args.repeat)
            total = load_s + lint_s
            print(f"{n:>9} {n * 20:>9} {load_s:>8.3f} {lint_s:>8.3f} {total:>8.3f} {total / base_load:>10.1f} {findings:>8}")


if __name__ == "__main__":
    main()
