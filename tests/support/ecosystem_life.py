"""An ecosystem's life in steps, as pull requests would build it (for validation scenarios).

Repositories: the ecosystem (main), zone USA (zone-usa), producer team1, consumer team
consumers, all branches of acme/model. Each step returns a new model.
"""

from __future__ import annotations

from handler.loading import LoadResult
from handler.model import (
    ConsumerRetentionRequirements,
    Credential,
    CredentialType,
    CronTrigger,
    DataMilestoningStrategy,
    Dataset,
    DatasetGroup,
    DatasetSink,
    Datastore,
    Date,
    DDLColumn,
    DDLTable,
    Ecosystem,
    GitHubRepository,
    GovernanceZoneDeclaration,
    HostPortPair,
    IngestionConsistencyType,
    Integer,
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
from handler.model.mapping import DSGPlatformAssignment, DSGPlatformMapping
from handler.validation import ChangeSource, ValidationResult, check_change

ECO = GitHubRepository("acme/model", "main")
ZONE = GitHubRepository("acme/model", "zone-usa")
TEAM1 = GitHubRepository("acme/model", "team1")
CONSUMERS = GitHubRepository("acme/model", "consumers")


def source(repo: GitHubRepository) -> ChangeSource:
    return ChangeSource(repo.repositoryName, repo.branchName)


def copy(eco: Ecosystem) -> Ecosystem:
    return Ecosystem.from_canonical_json(eco.to_canonical_json())


PRODUCER_CREDENTIAL = Credential("postgres-producer", CredentialType.USER_PASSWORD)


def initial() -> Ecosystem:
    merge = PostgresDatabase("Merge", hostPort=HostPortPair("merge", 5432), databaseName="merge")
    cred = Credential("postgres-merge", CredentialType.USER_PASSWORD)
    return Ecosystem(
        "Acme",
        ECO,
        governance_zone_declarations=[GovernanceZoneDeclaration("USA", ZONE, credentials=[PRODUCER_CREDENTIAL])],
        data_platforms=[
            YellowDataPlatform(
                "YellowLive", YellowMilestoneStrategy.SCD1, merge_datacontainer=merge, postgresCredential=cred
            ),
            YellowDataPlatform(
                "YellowForensic", YellowMilestoneStrategy.SCD2, merge_datacontainer=merge, postgresCredential=cred
            ),
        ],
    )


def zone_defined(eco: Ecosystem) -> Ecosystem:
    eco = copy(eco)
    eco.getZoneOrThrow("USA").add(
        TeamDeclaration("team1", TEAM1, credentials=[PRODUCER_CREDENTIAL]), TeamDeclaration("consumers", CONSUMERS)
    )
    return eco


def customers() -> Dataset:
    return Dataset(
        "customers",
        DDLTable(
            [
                DDLColumn("id", VarChar(20), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK),
                DDLColumn("name", VarChar(100), NullableStatus.NOT_NULLABLE),
                DDLColumn("age", Integer()),
                DDLColumn("dob", Date()),
            ]
        ),
        [SimpleDC(SimpleDCTypes.PC3, "Customer")],
    )


def store_defined(eco: Ecosystem) -> Ecosystem:
    eco = copy(eco)
    capture = SQLSnapshotIngestion(
        PostgresDatabase("Customers", hostPort=HostPortPair("producer", 5432), databaseName="customer_db"),
        CronTrigger("every minute", "*/1 * * * *"),
        IngestionConsistencyType.MULTI_DATASET,
        Credential("postgres-producer", CredentialType.USER_PASSWORD),
    )
    eco.getZoneOrThrow("USA").getTeamOrThrow("team1").add(Datastore("Store1", capture, [customers()]))
    return eco


def workspace_added(eco: Ecosystem) -> Ecosystem:
    eco = copy(eco)
    live = WorkspacePlatformConfig(ConsumerRetentionRequirements(DataMilestoningStrategy.LIVE_ONLY))
    eco.getZoneOrThrow("USA").getTeamOrThrow("consumers").add(
        Workspace("Consumer1", DatasetGroup("LiveDSG", [DatasetSink("Store1", "customers")], live))
    )
    return eco


def mapped(eco: Ecosystem) -> Ecosystem:
    eco = copy(eco)
    eco.dsg_platform_mappings.append(
        DSGPlatformMapping(
            dsgName="LiveDSG", workspace="Consumer1", assignments=[DSGPlatformAssignment(dataPlatform="YellowLive")]
        )
    )
    return eco


def running() -> Ecosystem:
    """The ecosystem after all the steps above."""
    return mapped(workspace_added(store_defined(zone_defined(initial()))))


def check(
    base: Ecosystem | None, head: Ecosystem, by: GitHubRepository | ChangeSource, files: tuple[str, ...] = ("eco.py",)
) -> ValidationResult:
    src = by if isinstance(by, ChangeSource) else source(by)
    return check_change(None if base is None else LoadResult(copy(base)), LoadResult(copy(head)), src, files)


def rules(result: ValidationResult) -> set[str]:
    return {f.rule for f in result.findings if f.is_error}
