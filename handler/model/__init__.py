"""The ecosystem model DSL, with DataSurface's names.

Model authors write ``from handler.model import *`` (or name what they use) in ``eco.py`` and
define ``createEcosystem() -> Ecosystem``. Every object is plain data: an ecosystem
round-trips through canonical JSON (``Ecosystem.to_canonical_json``) and compares by value.
"""

from handler.model.credential import Credential, CredentialType
from handler.model.documentation import MarkdownDocumentation, PlainTextDocumentation
from handler.model.ecosystem import Ecosystem
from handler.model.governance import (
    Dataset,
    Datastore,
    GovernanceZone,
    GovernanceZoneDeclaration,
    Team,
    TeamDeclaration,
)
from handler.model.infrastructure import CloudVendor, InfrastructureLocation, InfrastructureVendor
from handler.model.ingestion import (
    CronTrigger,
    HostPortPair,
    IngestionConsistencyType,
    LocationKey,
    PostgresDatabase,
    SQLSnapshotIngestion,
)
from handler.model.mapping import DSGPlatformAssignment, DSGPlatformMapping
from handler.model.platform import YellowDataPlatform, YellowMilestoneStrategy, YellowPlatformServiceProvider
from handler.model.policy import SimpleDC, SimpleDCTypes
from handler.model.repo import GitHubRepository
from handler.model.schema import DDLColumn, DDLTable, NullableStatus, PrimaryKeyStatus
from handler.model.types import (
    BigInt,
    Binary,
    Boolean,
    Char,
    Date,
    Decimal,
    Double,
    Float,
    Integer,
    NVarChar,
    SmallInt,
    String,
    Timestamp,
    TinyInt,
    VarChar,
    Variant,
)
from handler.model.workspace import (
    ConsumerRetentionRequirements,
    DataLatency,
    DataMilestoningStrategy,
    DataPlatformManagedDataContainer,
    DatasetGroup,
    DatasetSink,
    Workspace,
    WorkspacePlatformConfig,
)

__all__ = [
    "BigInt",
    "Binary",
    "Boolean",
    "Char",
    "CloudVendor",
    "ConsumerRetentionRequirements",
    "Credential",
    "CredentialType",
    "CronTrigger",
    "DDLColumn",
    "DDLTable",
    "DSGPlatformAssignment",
    "DSGPlatformMapping",
    "DataLatency",
    "DataMilestoningStrategy",
    "DataPlatformManagedDataContainer",
    "Dataset",
    "DatasetGroup",
    "DatasetSink",
    "Datastore",
    "Date",
    "Decimal",
    "Double",
    "Ecosystem",
    "Float",
    "GitHubRepository",
    "GovernanceZone",
    "GovernanceZoneDeclaration",
    "HostPortPair",
    "InfrastructureLocation",
    "InfrastructureVendor",
    "IngestionConsistencyType",
    "Integer",
    "LocationKey",
    "MarkdownDocumentation",
    "NVarChar",
    "NullableStatus",
    "PlainTextDocumentation",
    "PostgresDatabase",
    "PrimaryKeyStatus",
    "SQLSnapshotIngestion",
    "SimpleDC",
    "SimpleDCTypes",
    "SmallInt",
    "String",
    "Team",
    "TeamDeclaration",
    "Timestamp",
    "TinyInt",
    "VarChar",
    "Variant",
    "Workspace",
    "WorkspacePlatformConfig",
    "YellowDataPlatform",
    "YellowMilestoneStrategy",
    "YellowPlatformServiceProvider",
]
