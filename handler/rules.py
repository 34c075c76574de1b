"""Every check's rule: stable id, stage, severity, what it checks and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from handler.findings import Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    checks: str
    fix: str

    @property
    def stage(self) -> str:
        """``load`` (the sandbox and data files), ``validate`` (pull-request checks) or ``lint``."""
        if self.id.startswith("load-") or self.id == "mapping-invalid":
            return "load"
        if self.id.split("-", 1)[0] in ("files", "base", "auth", "compat") or self.id in (
            "platform-latency",
            "platform-unsupported-capture",
        ):
            return "validate"
        return "lint"


E, W = Severity.ERROR, Severity.WARNING

RULES: dict[str, Rule] = {
    r.id: r
    for r in [
        # Loading (raised by the sandbox and the data-file readers)
        Rule(
            "load-syntax",
            E,
            "eco.py (or a module it imports) is valid Python",
            "Fix the syntax error at the file and line shown.",
        ),
        Rule(
            "load-exception",
            E,
            "createEcosystem() runs without raising",
            "Fix the code at the file and line shown; the message is the exception.",
        ),
        Rule(
            "load-entrypoint",
            E,
            "eco.py defines createEcosystem() returning an Ecosystem",
            "Define `def createEcosystem() -> Ecosystem` in eco.py and return the ecosystem.",
        ),
        Rule(
            "load-timeout",
            E,
            "createEcosystem() finishes within the sandbox's time and CPU limits",
            "Remove loops that never end or slow work; the model should only describe the ecosystem.",
        ),
        Rule(
            "load-memory",
            E,
            "createEcosystem() stays within the sandbox's memory limit",
            "Do not build huge structures in the model.",
        ),
        Rule(
            "load-invalid",
            E,
            "the returned ecosystem holds only model objects of the right types",
            'Pass the object type the message names at the model path shown (e.g. VarChar(20), not "varchar").',
        ),
        Rule(
            "load-missing",
            E,
            "the model folder exists and has an eco.py",
            "Point the command at the folder holding eco.py.",
        ),
        Rule(
            "load-failed",
            E,
            "the sandboxed model process ends with a result",
            "See the message; the process crashed or printed no model.",
        ),
        Rule(
            "load-sandbox-unavailable",
            E,
            "model code runs only inside the full sandbox: Landlock for files, seccomp for system calls",
            "Run on a Linux kernel with Landlock (5.13+, enabled in the LSM list) and libseccomp installed; "
            "only on a machine you trust with every model, pass --allow-unsandboxed (service: allow_unsandboxed).",
        ),
        Rule(
            "load-unsandboxed",
            W,
            "the model ran with the full sandbox",
            "This machine was configured with --allow-unsandboxed: the model ran without part of its isolation.",
        ),
        Rule(
            "load-output-truncated",
            W,
            "the model prints at most 1 MiB",
            "Remove the prints from the model; only the first MiB of its output is kept.",
        ),
        Rule(
            "load-nondeterministic",
            E,
            "createEcosystem() returns the same model every time it runs",
            "Do not build the model from the clock, process ids, random numbers, set or hash order, the folder "
            "path or directory listing order: what was validated must be what is deployed.",
        ),
        Rule(
            "load-symlink-outside",
            E,
            "links in the model repository lead to files inside it",
            "Replace the link with the file it points to, or point it at a file of the repository.",
        ),
        Rule(
            "load-file-type",
            E,
            "the model repository holds only regular files, folders and links",
            "Remove the named pipe, socket or device file from the repository.",
        ),
        Rule(
            "load-tree-limit",
            E,
            "the model repository stays within the sandbox's size limits (16 MiB a file, 256 MiB, 20,000 files)",
            "Keep data files out of the model repository.",
        ),
        Rule(
            "mapping-invalid",
            E,
            "dsg_platform_mapping.json is a list of {dsgName, workspace, assignments:[{dataPlatform, status}]}",
            "Fix the JSON at the place the message shows.",
        ),
        # Names
        Rule(
            "identifier-invalid",
            E,
            "names are SQL-safe: a letter or _, then letters, digits or _, at most 63 characters",
            "Rename the object, e.g. `customer_orders` instead of `customer-orders`.",
        ),
        Rule(
            "identifier-reserved",
            E,
            "names are not SQL reserved words and columns do not use the reserved prefix ds_surf_",
            "Rename the object, e.g. `order_date` instead of `order`.",
        ),
        Rule(
            "name-duplicate",
            E,
            "names are unique where they are looked up (columns case-insensitively; datastores and workspaces across the ecosystem)",
            "Rename or remove one of the duplicates.",
        ),
        Rule(
            "name-collision",
            E,
            "distinct objects keep distinct derived names (schemas, reader roles, views, streams, Kubernetes "
            "names) after lower-casing and shortening",
            "Rename one of the two objects so that their names differ in more than letter case or the place of an `_`.",
        ),
        # Credentials and databases
        Rule(
            "credential-not-granted",
            E,
            "a datastore reads its database only with a credential its team was granted",
            "Ask the zone's owners to grant it: TeamDeclaration(name, repo, credentials=[Credential(...)]) "
            "in one pull request, then use it in the datastore in the next.",
        ),
        Rule(
            "credential-grant-invalid",
            E,
            "a zone grants its teams only credentials the ecosystem granted the zone",
            "Ask the ecosystem's owners to grant the credential to the zone first: "
            "GovernanceZoneDeclaration(name, repo, credentials=[...]).",
        ),
        Rule(
            "credential-platform-reserved",
            E,
            "a platform's own credentials (merge database, git) are never granted to a zone or team, nor used by a datastore",
            "Use the producer database's own credential; the platform's credentials stay with the platform.",
        ),
        Rule(
            "capture-merge-database",
            E,
            "no datastore ingests from a platform's merge database",
            "Point the datastore at the producer's own database.",
        ),
        Rule(
            "workspace-database-credential",
            E,
            "a workspace's own database names the credential the platform writes it with (and only there: a "
            "datastore's credential belongs to its ingestion)",
            "Write PostgresDatabase(name, hostPort=..., databaseName=..., credential=Credential(...)) as the "
            "workspace's container, with a credential its team was granted.",
        ),
        Rule(
            "workspace-database-merge",
            E,
            "a workspace's own database is never a platform's merge database",
            "Name the workspace's consumer database, or use DataPlatformManagedDataContainer to read views in the "
            "merge database.",
        ),
        # Structure and references
        Rule(
            "zone-undeclared",
            E,
            "every defined governance zone is declared by the ecosystem",
            "Declare the zone with GovernanceZoneDeclaration in the ecosystem repo first.",
        ),
        Rule(
            "team-undeclared",
            E,
            "every defined team is declared by its zone",
            "Declare the team with TeamDeclaration in the zone repo first.",
        ),
        Rule(
            "reference-unresolved",
            E,
            "every dataset sink names an existing datastore and dataset",
            "Fix the store or dataset name, or add the dataset first.",
        ),
        Rule(
            "mapping-reference",
            E,
            "every mapping names an existing workspace, dataset group and data platform",
            "Fix the names in dsg_platform_mapping.json.",
        ),
        Rule(
            "mapping-duplicate",
            E,
            "each (workspace, dataset group) is mapped once, each platform once per group",
            "Merge the duplicate entries of dsg_platform_mapping.json.",
        ),
        Rule(
            "dsg-unassigned",
            W,
            "every dataset group is assigned to a platform",
            "Add the group to dsg_platform_mapping.json; until then its consumers get no data.",
        ),
        Rule(
            "dsg-retention-missing",
            E,
            "every dataset group states its retention (platform_chooser)",
            "Add platform_chooser=WorkspacePlatformConfig(ConsumerRetentionRequirements(...)).",
        ),
        Rule(
            "dsg-empty",
            W,
            "every dataset group has at least one sink",
            "Add DatasetSink(store, dataset) entries or remove the group.",
        ),
        # Schemas
        Rule("dataset-empty", E, "every dataset has at least one column", "Add the dataset's columns."),
        Rule(
            "primary-key-missing",
            E,
            "every dataset has a primary key",
            "Mark the key column(s) with primary_key=PrimaryKeyStatus.PK.",
        ),
        Rule(
            "primary-key-nullable",
            E,
            "primary key columns are NOT NULL",
            "Set nullable=NullableStatus.NOT_NULLABLE on the key column.",
        ),
        Rule(
            "type-invalid",
            E,
            "type sizes are positive and in range (Decimal precision <= maxSize <= 1000, strings <= 10485760)",
            "Fix the size of the type.",
        ),
        Rule(
            "classification-missing",
            W,
            "every dataset is classified",
            "Add classifications=[SimpleDC(SimpleDCTypes...)] so consumers know how to treat the data.",
        ),
        # Capture, platforms and infrastructure
        Rule(
            "cron-invalid",
            E,
            "cron expressions have five valid fields (or are @hourly, @daily, ...)",
            'Use a standard expression such as "*/5 * * * *".',
        ),
        Rule(
            "datastore-no-ingestion",
            W,
            "every datastore says how it is captured",
            "Add capture_metadata=SQLSnapshotIngestion(...).",
        ),
        Rule(
            "database-invalid",
            E,
            "databases have a host, a port in 1-65535 and a SQL-safe database name",
            "Fix the database's hostPort or databaseName.",
        ),
        Rule(
            "credential-name-invalid",
            E,
            "credentials name a Kubernetes secret (lower-case DNS name)",
            "Use a name like `postgres-producer`; the secret holds the value, never the model.",
        ),
        Rule(
            "repo-invalid",
            E,
            "repositories are `owner/name` with a valid branch name",
            'Write GitHubRepository("owner/name", "branch").',
        ),
        Rule(
            "platform-config",
            E,
            "every platform has a merge database, a credential for it and a valid namespace",
            "Set merge_datacontainer, postgresCredential and namespace on the platform.",
        ),
        Rule(
            "platform-milestone-mismatch",
            E,
            "LIVE_ONLY groups go to SCD1 platforms, FORENSIC groups to SCD2 platforms",
            "Assign the group to a platform whose milestone strategy matches its retention.",
        ),
        # Pull-request validation (datasurface validate)
        Rule(
            "files-forbidden",
            E,
            "a pull request changes only *.py, dsg_platform_mapping.json, primary_ingestion_platforms.json and *.md",
            "Move the other changes (workflows, requirements, ...) to a separate pull request by the platform team.",
        ),
        Rule(
            "base-unloadable",
            E,
            "the base model (the target branch) loads",
            "Fix the target branch first; a change cannot be judged against a model that does not load.",
        ),
        Rule(
            "auth-initial-checkin",
            E,
            "the first model of a repository comes from the ecosystem's own repository",
            "Open the initial check-in from the repository and branch the Ecosystem names.",
        ),
        Rule(
            "auth-unknown-source",
            E,
            "the pull request comes from the ecosystem repository or a declared zone or team repository",
            "Open the pull request from the repository and branch that own what you change (identity is case-sensitive).",
        ),
        Rule(
            "auth-undeclared",
            E,
            "changed objects belong to a declared zone or team",
            "Have the parent declare the zone or team first (GovernanceZoneDeclaration / TeamDeclaration).",
        ),
        Rule(
            "auth-not-owner",
            E,
            "every changed object is owned by the pull request's repository and branch",
            "Make this change from the owning repository shown in the message, or ask its owners to.",
        ),
        Rule(
            "compat-column-removed",
            E,
            "no column is removed",
            "Keep the column; stop filling it (make it nullable in a new dataset version) if it is no longer used.",
        ),
        Rule(
            "compat-column-added-not-null",
            E,
            "new columns are nullable",
            "Add the column with nullable=NullableStatus.NULLABLE.",
        ),
        Rule(
            "compat-column-added-key",
            E,
            "new columns are not key columns",
            "Add the column as a non-key column; a new key means a new dataset.",
        ),
        Rule(
            "compat-nullability-changed",
            E,
            "a column's nullability never changes",
            "Keep the column's nullability; add a new column instead.",
        ),
        Rule(
            "compat-key-changed",
            E,
            "a dataset's primary key never changes",
            "Keep the key; a different key means a new dataset.",
        ),
        Rule(
            "compat-type-narrowed",
            E,
            "types only widen (TinyInt<SmallInt<Integer<BigInt, longer strings, larger Decimal)",
            "Keep the old size or widen it.",
        ),
        Rule(
            "compat-type-kind-changed",
            E,
            "a column keeps its kind of type (Date may become Timestamp, Char VarChar, VarChar String)",
            "Keep the type; add a new column of the new type instead.",
        ),
        Rule(
            "compat-dataset-in-use",
            E,
            "a removed dataset is used by no workspace",
            "Remove the dataset from the workspaces named first (their owners' pull requests), then remove it.",
        ),
        Rule(
            "platform-latency",
            E,
            "the assigned platform can meet the group's latency",
            "Ask for MINUTES (or slower) latency, or assign a faster platform.",
        ),
        Rule(
            "platform-unsupported-capture",
            E,
            "the assigned platform can ingest the group's datastores (SQL snapshots of PostgreSQL)",
            "Give the datastore SQLSnapshotIngestion(PostgresDatabase(...), ...) capture metadata.",
        ),
    ]
}


#: A finding each rule produces, as a user sees it: ``path: message``.
EXAMPLES: dict[str, str] = {
    "load-syntax": "file:eco.py:3: SyntaxError: invalid syntax at eco.py:3",
    "credential-not-granted": "zone:USA/team:team1/store:Store1: datastore 'Store1' reads its database with credential "
    "'team2-producer', which zone 'USA' has not granted to team 'team1'",
    "credential-grant-invalid": "zone:USA/team-declaration:team1: zone 'USA' grants credential 'billing-db' to team "
    "'team1', but the ecosystem has not granted it to the zone",
    "credential-platform-reserved": "zone:USA/team:team1/store:Store1: credential 'postgres-merge' belongs to platform "
    "'YellowForensic': no zone, team or datastore may use it",
    "capture-merge-database": "zone:USA/team:team1/store:Store1: datastore 'Store1' would ingest from "
    "'datasurface_merge' on pg-merge.datasurface.svc.cluster.local, the merge database of platform 'YellowForensic'",
    "name-collision": "zone:USA/team:team2/workspace:CONSUMER1: workspace 'CONSUMER1' and workspace 'Consumer1' both "
    "become the schema and reader role 'consumer1': one would replace or read the other",
    "workspace-database-credential": "zone:USA/team:team1/workspace:Consumer2: workspace 'Consumer2' has its own "
    "database 'ConsumerDB' but no credential for the platform to write it with",
    "workspace-database-merge": "zone:USA/team:team1/workspace:Consumer2: workspace 'Consumer2' names "
    "'datasurface_merge' on pg-merge.datasurface.svc.cluster.local, the merge database of platform 'YellowForensic', "
    "as its own database",
    "load-exception": "file:eco.py:42: KeyError: 'customers' at eco.py:42",
    "load-entrypoint": "file:eco.py: eco.py defines no createEcosystem() function",
    "load-timeout": "file:eco.py: createEcosystem() did not finish within 60 s",
    "load-memory": "file:eco.py:12: the model ran out of memory (address-space limit)",
    "load-invalid": "zone:USA/team:team1/store:Store1/dataset:customers/schema/columns/column:dob/type: Expected `object`, got `str`",
    "load-missing": "file:models/eco: models/eco is not a folder",
    "load-failed": "file:eco.py: the model process ended without a result (signal SIGKILL)",
    "load-sandbox-unavailable": "file:eco.py: the model was not run: the sandbox cannot be fully applied "
    "(seccomp: seccomp is not available (libseccomp not found))",
    "load-unsandboxed": "file:eco.py: the model ran WITHOUT part of the sandbox (landlock: Landlock is not available "
    "on this kernel)",
    "load-output-truncated": "file:eco.py: the model printed more than 1 MiB; 52,428,800 bytes of its output were "
    "discarded",
    "load-nondeterministic": "zone:USA/team:team1: two runs of createEcosystem() returned different models, first at "
    "zone:USA/team:team1: the model must not depend on the clock, process id, ...",
    "load-symlink-outside": "file:secrets.json: secrets.json is a link to '/etc/passwd', outside the model folder",
    "load-file-type": "file:pipe: pipe is a named pipe (FIFO); a model folder may hold only files, folders and links",
    "load-tree-limit": "file:data.bin: data.bin is larger than 16 MiB: the model folder may not hold it",
    "mapping-invalid": "file:dsg_platform_mapping.json: Object contains unknown field `dataPlatfrom`",
    "identifier-invalid": "zone:USA/team:team1/store:Store1/dataset:customers/column:first-name: column name 'first-name' is not SQL-safe",
    "identifier-reserved": "zone:USA/team:team1/store:Store1/dataset:customers/column:order: column name 'order' is an SQL reserved word",
    "name-duplicate": "zone:USA/team:team1/store:Store1/dataset:customers/column:EMAIL: column 'EMAIL' appears twice (differs only in letter case from 'email')",
    "zone-undeclared": "zone:EU: zone 'EU' is defined but the ecosystem does not declare it",
    "team-undeclared": "zone:USA/team:ghost: team 'ghost' is defined but zone 'USA' does not declare it",
    "reference-unresolved": "zone:USA/team:team1/workspace:Consumer1/dsg:LiveDSG/sink:Store1.orders: datastore 'Store1' has no dataset 'orders'",
    "mapping-reference": "mapping:Consumer1/LiveDSG: no data platform is named 'YellowGhost'",
    "mapping-duplicate": "mapping:Consumer1/LiveDSG: workspace 'Consumer1' group 'LiveDSG' is mapped 2 times",
    "dsg-unassigned": "zone:USA/team:team1/workspace:Consumer1/dsg:LiveDSG: dataset group 'LiveDSG' of workspace 'Consumer1' is not assigned to any platform",
    "dsg-retention-missing": "zone:USA/team:team1/workspace:Consumer1/dsg:LiveDSG: dataset group 'LiveDSG' does not say whether it needs LIVE_ONLY or FORENSIC data",
    "dsg-empty": "zone:USA/team:team1/workspace:Consumer1/dsg:LiveDSG: dataset group 'LiveDSG' has no sinks",
    "dataset-empty": "zone:USA/team:team1/store:Store1/dataset:customers: dataset 'customers' has no columns",
    "primary-key-missing": "zone:USA/team:team1/store:Store1/dataset:customers: dataset 'customers' has no primary key column",
    "primary-key-nullable": "zone:USA/team:team1/store:Store1/dataset:customers/column:id: key column 'id' must be NOT_NULLABLE",
    "type-invalid": "zone:USA/team:team1/store:Store1/dataset:customers/column:amount: Decimal(5,7): precision must be between 0 and maxSize",
    "classification-missing": "zone:USA/team:team1/store:Store1/dataset:customers: dataset 'customers' has no data classification",
    "cron-invalid": "zone:USA/team:team1/store:Store1: schedule '61 * * * *' is not a valid cron expression",
    "datastore-no-ingestion": "zone:USA/team:team1/store:Store1: datastore 'Store1' has no capture_metadata; no platform can ingest it",
    "database-invalid": "platform:YellowLive: database name 'merge-db' is not SQL-safe",
    "credential-name-invalid": "zone:USA/team:team1/store:Store1: credential 'Postgres_Producer' must name a Kubernetes secret",
    "repo-invalid": "zone:USA/team:team1: repository 'no-slash' is not of the form owner/name",
    "platform-config": "platform:YellowLive: platform 'YellowLive' has no merge_datacontainer (the database it merges into)",
    "platform-milestone-mismatch": "mapping:Consumer1/LiveDSG: group 'LiveDSG' needs LIVE_ONLY data but platform 'YellowLive' is SCD2 and serves FORENSIC",
    "files-forbidden": "file:.github/workflows/ci.yml: .github/workflows/ci.yml may not be changed here",
    "base-unloadable": "base: the base model does not load, so the change cannot be judged: file:eco.py:3: SyntaxError ...",
    "auth-initial-checkin": "ecosystem: an initial check-in must come from the ecosystem's repository acme/model@main, not acme/model@team1",
    "auth-unknown-source": "ecosystem: Acme/model@team1 owns nothing in this ecosystem (acme/model@team1 differs only in letter case)",
    "auth-undeclared": "zone:EU/team:t: zone:EU/team:t is added but team 't' of zone 'EU' is not declared, so nobody may change it",
    "auth-not-owner": "zone:USA/team:team1/store:Store1/dataset:customers/column:note: column added by acme/model@consumers, but team 'team1' of zone 'USA' is owned by acme/model@team1",
    "compat-column-removed": "zone:USA/team:team1/store:Store1/dataset:customers/column:dob: column 'dob' is removed; columns can never be removed",
    "compat-column-added-not-null": "zone:USA/team:team1/store:Store1/dataset:customers/column:email: new column 'email' is NOT_NULLABLE",
    "compat-column-added-key": "zone:USA/team:team1/store:Store1/dataset:customers/column:region: new column 'region' is a primary key column",
    "compat-nullability-changed": "zone:USA/team:team1/store:Store1/dataset:customers/column:age: column 'age' changed from NULLABLE to NOT_NULLABLE",
    "compat-key-changed": "zone:USA/team:team1/store:Store1/dataset:customers/column:name: column 'name' changed from NOT_PK to PK",
    "compat-type-narrowed": "zone:USA/team:team1/store:Store1/dataset:customers/column:name: column 'name' changed from VarChar(100) to VarChar(50): a shorter string",
    "compat-type-kind-changed": "zone:USA/team:team1/store:Store1/dataset:customers/column:dob: column 'dob' changed from Date to VarChar(10)",
    "compat-dataset-in-use": "zone:USA/team:team1/store:Store1/dataset:customers: dataset Store1.customers is removed but still used by Consumer1/LiveDSG",
    "platform-latency": "zone:USA/team:consumers/workspace:Consumer1/dsg:LiveDSG: YellowLive runs at most once a minute and cannot meet SECONDS latency",
    "platform-unsupported-capture": "zone:USA/team:consumers/workspace:Consumer1/dsg:LiveDSG/sink:Store1.customers: YellowLive ingests SQL snapshots of PostgreSQL databases; datastore 'Store1' has no such capture_metadata",
}
