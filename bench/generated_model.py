"""Generated ecosystem models for the benchmarks: N datasets of 20 columns.

100 datasets per datastore, one team per 10 datastores, and a workspace per team consuming
every dataset of the team in a live and a forensic group, all assigned in
dsg_platform_mapping.json. ``changed`` datasets (the first ones) get one more nullable column,
so a base and a head model differ by that many datasets.
"""

from __future__ import annotations

import json
from pathlib import Path

DATASETS_PER_STORE = 100
STORES_PER_TEAM = 10

ECO_TEMPLATE = """
from handler.model import *

N_DATASETS = {n}
CHANGED = {changed}
PER_STORE = {per_store}
PER_TEAM = {per_team}
PK = dict(nullable=NullableStatus.NOT_NULLABLE, primary_key=PrimaryKeyStatus.PK)
TYPES = [VarChar(100), Integer(), Date(), Decimal(18, 2), Timestamp(), BigInt(), String(), Boolean()]


def columns(i):
    cols = [DDLColumn("id", VarChar(20), **PK)]
    for c in range(19):
        cols.append(DDLColumn(f"col_{{c}}_{{i % 7}}", TYPES[(i + c) % len(TYPES)]))
    if i < CHANGED:
        cols.append(DDLColumn("added_later", VarChar(30)))
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
"""


def write_model(folder: Path, n: int, changed: int = 0) -> None:
    folder.mkdir(parents=True)
    (folder / "eco.py").write_text(
        ECO_TEMPLATE.format(n=n, changed=changed, per_store=DATASETS_PER_STORE, per_team=STORES_PER_TEAM)
    )
    teams = (((n + DATASETS_PER_STORE - 1) // DATASETS_PER_STORE) + STORES_PER_TEAM - 1) // STORES_PER_TEAM
    mapping = []
    for t in range(teams):
        mapping.append(
            {
                "dsgName": "live",
                "workspace": f"ws{t}",
                "assignments": [{"dataPlatform": "Live", "status": "PROVISIONED"}],
            }
        )
        mapping.append(
            {
                "dsgName": "hist",
                "workspace": f"ws{t}",
                "assignments": [{"dataPlatform": "Forensic", "status": "PROVISIONED"}],
            }
        )
    (folder / "dsg_platform_mapping.json").write_text(json.dumps(mapping))
