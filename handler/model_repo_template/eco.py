"""The MVP data ecosystem: one producer (customers and their addresses), two consumers: Consumer1
reads its views where the platforms put them (the merge database), Consumer2 from its own
consumer database, which the platforms keep up to date.

``createEcosystem()`` is called in a sandbox: no network secrets, no environment variables,
limited CPU, memory and time. Keep it a pure description of the ecosystem.
"""

from handler.model import (
    ConsumerRetentionRequirements,
    Credential,
    CredentialType,
    CronTrigger,
    DataLatency,
    DataMilestoningStrategy,
    DataPlatformManagedDataContainer,
    Dataset,
    DatasetGroup,
    DatasetSink,
    Datastore,
    Date,
    DDLColumn,
    DDLTable,
    Ecosystem,
    GitHubRepository,
    GovernanceZone,
    GovernanceZoneDeclaration,
    HostPortPair,
    IngestionConsistencyType,
    NullableStatus,
    PlainTextDocumentation,
    PostgresDatabase,
    PrimaryKeyStatus,
    SimpleDC,
    SimpleDCTypes,
    SQLSnapshotIngestion,
    Team,
    TeamDeclaration,
    VarChar,
    Workspace,
    WorkspacePlatformConfig,
    YellowDataPlatform,
    YellowMilestoneStrategy,
)

# Repositories own parts of the model: a pull request may change only what its repository owns.
ECOSYSTEM_REPO = GitHubRepository("acme/datasurface-model", "main")
ZONE_REPO = GitHubRepository("acme/datasurface-model", "zone-usa")
TEAM_REPO = GitHubRepository("acme/datasurface-model", "team1")

PK = {"nullable": NullableStatus.NOT_NULLABLE, "primary_key": PrimaryKeyStatus.PK}
NOT_NULL = {"nullable": NullableStatus.NOT_NULLABLE}


def createEcosystem() -> Ecosystem:
    merge_db = PostgresDatabase(
        "MergeDB",
        hostPort=HostPortPair("pg-merge.datasurface.svc.cluster.local", 5432),
        databaseName="datasurface_merge",
    )
    merge_credential = Credential("postgres-merge", CredentialType.USER_PASSWORD)
    # The producer database's secret: granted by the ecosystem to the zone, by the zone to team1.
    producer_credential = Credential("postgres-producer", CredentialType.USER_PASSWORD)
    # The consumer database's secret: the platforms write Consumer2's data there with it.
    consumer_credential = Credential("postgres-consumer", CredentialType.USER_PASSWORD)

    ecosystem = Ecosystem(
        name="Acme",
        repo=ECOSYSTEM_REPO,
        governance_zone_declarations=[
            GovernanceZoneDeclaration("USA", ZONE_REPO, credentials=[producer_credential, consumer_credential]),
        ],
        data_platforms=[
            YellowDataPlatform(
                "YellowLive",
                YellowMilestoneStrategy.SCD1,
                doc=PlainTextDocumentation("Live tables: the current state of every producer table"),
                merge_datacontainer=merge_db,
                postgresCredential=merge_credential,
                schedule=CronTrigger("Every minute", "*/1 * * * *"),
            ),
            YellowDataPlatform(
                "YellowForensic",
                YellowMilestoneStrategy.SCD2,
                doc=PlainTextDocumentation("Forensic tables: every version of every row, milestoned by batch"),
                merge_datacontainer=merge_db,
                postgresCredential=merge_credential,
                schedule=CronTrigger("Every 10 minutes", "*/10 * * * *"),
            ),
        ],
    )

    zone: GovernanceZone = ecosystem.getZoneOrThrow("USA")
    zone.add(TeamDeclaration("team1", TEAM_REPO, credentials=[producer_credential, consumer_credential]))

    team: Team = zone.getTeamOrThrow("team1")
    team.add(
        Datastore(
            "Store1",
            documentation=PlainTextDocumentation("Customers and their addresses, from the customer database"),
            capture_metadata=SQLSnapshotIngestion(
                PostgresDatabase(
                    "CustomerDB",
                    hostPort=HostPortPair("pg-producer.datasurface.svc.cluster.local", 5432),
                    databaseName="customer_db",
                ),
                CronTrigger("Every minute", "*/1 * * * *"),
                IngestionConsistencyType.MULTI_DATASET,
                producer_credential,
            ),
            datasets=[
                Dataset(
                    "customers",
                    schema=DDLTable(
                        columns=[
                            DDLColumn("id", VarChar(20), **PK),
                            DDLColumn("firstName", VarChar(100), **NOT_NULL),
                            DDLColumn("lastName", VarChar(100), **NOT_NULL),
                            DDLColumn("dob", Date(), **NOT_NULL),
                            DDLColumn("email", VarChar(100)),
                            DDLColumn("phone", VarChar(100)),
                            DDLColumn("primaryAddressId", VarChar(20)),
                            DDLColumn("billingAddressId", VarChar(20)),
                        ]
                    ),
                    classifications=[SimpleDC(SimpleDCTypes.PC3, "Customer")],
                ),
                Dataset(
                    "addresses",
                    schema=DDLTable(
                        columns=[
                            DDLColumn("id", VarChar(20), **PK),
                            DDLColumn("customerId", VarChar(20), **NOT_NULL),
                            DDLColumn("streetName", VarChar(100), **NOT_NULL),
                            DDLColumn("city", VarChar(100), **NOT_NULL),
                            DDLColumn("state", VarChar(100), **NOT_NULL),
                            DDLColumn("zipCode", VarChar(30), **NOT_NULL),
                        ]
                    ),
                    classifications=[SimpleDC(SimpleDCTypes.PC3, "Address")],
                ),
            ],
        ),
        Workspace(
            "Consumer1",
            DataPlatformManagedDataContainer("Consumer1 container"),
            DatasetGroup(
                "LiveDSG",
                sinks=[DatasetSink("Store1", "customers"), DatasetSink("Store1", "addresses")],
                platform_chooser=WorkspacePlatformConfig(
                    ConsumerRetentionRequirements(DataMilestoningStrategy.LIVE_ONLY, DataLatency.MINUTES)
                ),
            ),
            DatasetGroup(
                "ForensicDSG",
                sinks=[DatasetSink("Store1", "customers"), DatasetSink("Store1", "addresses")],
                platform_chooser=WorkspacePlatformConfig(
                    ConsumerRetentionRequirements(DataMilestoningStrategy.FORENSIC, DataLatency.MINUTES)
                ),
            ),
        ),
        Workspace(
            "Consumer2",
            PostgresDatabase(
                "ConsumerDB",
                hostPort=HostPortPair("pg-consumer.datasurface.svc.cluster.local", 5432),
                databaseName="consumer_db",
                credential=consumer_credential,
            ),
            DatasetGroup(
                "LiveDSG",
                sinks=[DatasetSink("Store1", "customers"), DatasetSink("Store1", "addresses")],
                platform_chooser=WorkspacePlatformConfig(
                    ConsumerRetentionRequirements(DataMilestoningStrategy.LIVE_ONLY, DataLatency.MINUTES)
                ),
            ),
            DatasetGroup(
                "ForensicDSG",
                sinks=[DatasetSink("Store1", "customers")],
                platform_chooser=WorkspacePlatformConfig(
                    ConsumerRetentionRequirements(DataMilestoningStrategy.FORENSIC, DataLatency.MINUTES)
                ),
            ),
        ),
    )
    return ecosystem
