"""Every lint rule: its stable id, severity, what it checks and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from handler.findings import Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    checks: str
    fix: str


E, W = Severity.ERROR, Severity.WARNING

RULES: dict[str, Rule] = {
    r.id: r
    for r in [
        # Loading (raised by the sandbox and the data-file readers)
        Rule("load-syntax", E, "eco.py (or a module it imports) is valid Python", "Fix the syntax error at the file and line shown."),
        Rule("load-exception", E, "createEcosystem() runs without raising", "Fix the code at the file and line shown; the message is the exception."),
        Rule("load-entrypoint", E, "eco.py defines createEcosystem() returning an Ecosystem", "Define `def createEcosystem() -> Ecosystem` in eco.py and return the ecosystem."),
        Rule("load-timeout", E, "createEcosystem() finishes within the sandbox's time and CPU limits", "Remove loops that never end or slow work; the model should only describe the ecosystem."),
        Rule("load-memory", E, "createEcosystem() stays within the sandbox's memory limit", "Do not build huge structures in the model."),
        Rule("load-invalid", E, "the returned ecosystem holds only model objects of the right types", "Pass the object type the message names at the model path shown (e.g. VarChar(20), not \"varchar\")."),
        Rule("load-missing", E, "the model folder exists and has an eco.py", "Point the command at the folder holding eco.py."),
        Rule("load-failed", E, "the sandboxed model process ends with a result", "See the message; the process crashed or printed no model."),
        Rule("mapping-invalid", E, "dsg_platform_mapping.json is a list of {dsgName, workspace, assignments:[{dataPlatform, status}]}", "Fix the JSON at the place the message shows."),
        # Names
        Rule("identifier-invalid", E, "names are SQL-safe: a letter or _, then letters, digits or _, at most 63 characters", "Rename the object, e.g. `customer_orders` instead of `customer-orders`."),
        Rule("identifier-reserved", E, "names are not SQL reserved words and columns do not use the reserved prefix ds_surf_", "Rename the object, e.g. `order_date` instead of `order`."),
        Rule("name-duplicate", E, "names are unique where they are looked up (columns case-insensitively; datastores and workspaces across the ecosystem)", "Rename or remove one of the duplicates."),
        # Structure and references
        Rule("zone-undeclared", E, "every defined governance zone is declared by the ecosystem", "Declare the zone with GovernanceZoneDeclaration in the ecosystem repo first."),
        Rule("team-undeclared", E, "every defined team is declared by its zone", "Declare the team with TeamDeclaration in the zone repo first."),
        Rule("reference-unresolved", E, "every dataset sink names an existing datastore and dataset", "Fix the store or dataset name, or add the dataset first."),
        Rule("mapping-reference", E, "every mapping names an existing workspace, dataset group and data platform", "Fix the names in dsg_platform_mapping.json."),
        Rule("mapping-duplicate", E, "each (workspace, dataset group) is mapped once, each platform once per group", "Merge the duplicate entries of dsg_platform_mapping.json."),
        Rule("dsg-unassigned", W, "every dataset group is assigned to a platform", "Add the group to dsg_platform_mapping.json; until then its consumers get no data."),
        Rule("dsg-retention-missing", E, "every dataset group states its retention (platform_chooser)", "Add platform_chooser=WorkspacePlatformConfig(ConsumerRetentionRequirements(...))."),
        Rule("dsg-empty", W, "every dataset group has at least one sink", "Add DatasetSink(store, dataset) entries or remove the group."),
        # Schemas
        Rule("dataset-empty", E, "every dataset has at least one column", "Add the dataset's columns."),
        Rule("primary-key-missing", E, "every dataset has a primary key", "Mark the key column(s) with primary_key=PrimaryKeyStatus.PK."),
        Rule("primary-key-nullable", E, "primary key columns are NOT NULL", "Set nullable=NullableStatus.NOT_NULLABLE on the key column."),
        Rule("type-invalid", E, "type sizes are positive and in range (Decimal precision <= maxSize <= 1000, strings <= 10485760)", "Fix the size of the type."),
        Rule("classification-missing", W, "every dataset is classified", "Add classifications=[SimpleDC(SimpleDCTypes...)] so consumers know how to treat the data."),
        # Capture, platforms and infrastructure
        Rule("cron-invalid", E, "cron expressions have five valid fields (or are @hourly, @daily, ...)", "Use a standard expression such as \"*/5 * * * *\"."),
        Rule("datastore-no-ingestion", W, "every datastore says how it is captured", "Add capture_metadata=SQLSnapshotIngestion(...)."),
        Rule("database-invalid", E, "databases have a host, a port in 1-65535 and a SQL-safe database name", "Fix the database's hostPort or databaseName."),
        Rule("credential-name-invalid", E, "credentials name a Kubernetes secret (lower-case DNS name)", "Use a name like `postgres-producer`; the secret holds the value, never the model."),
        Rule("repo-invalid", E, "repositories are `owner/name` with a valid branch name", "Write GitHubRepository(\"owner/name\", \"branch\")."),
        Rule("platform-config", E, "every platform has a merge database, a credential for it and a valid namespace", "Set merge_datacontainer, postgresCredential and namespace on the platform."),
        Rule("platform-milestone-mismatch", E, "LIVE_ONLY groups go to SCD1 platforms, FORENSIC groups to SCD2 platforms", "Assign the group to a platform whose milestone strategy matches its retention."),
    ]
}
