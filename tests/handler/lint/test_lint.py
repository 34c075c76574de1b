"""Lint: every rule has a case that triggers it, and the clean MVP model triggers none."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handler.findings import Severity
from handler.lint import RULES, lint
from handler.model import (
    Credential,
    CredentialType,
    CronTrigger,
    Dataset,
    DatasetGroup,
    DatasetSink,
    DDLColumn,
    DDLTable,
    Decimal,
    Ecosystem,
    GovernanceZone,
    HostPortPair,
    NullableStatus,
    PostgresDatabase,
    PrimaryKeyStatus,
    String,
    Team,
    VarChar,
    Workspace,
    YellowMilestoneStrategy,
)
from handler.model.governance import Datastore
from handler.model.mapping import AssignmentStatus, DSGPlatformAssignment, DSGPlatformMapping
from tests.support.template import ROOT, build_template_ecosystem

STORE = "zone:USA/team:team1/store:Store1"
CUSTOMERS = f"{STORE}/dataset:customers"
CONSUMER = "zone:USA/team:team1/workspace:Consumer1"
CONSUMER2 = "zone:USA/team:team1/workspace:Consumer2"


def zone(eco: Ecosystem) -> GovernanceZone:
    return eco.zones[0]


def team(eco: Ecosystem) -> Team:
    return eco.zones[0].teams[0]


def store(eco: Ecosystem) -> Datastore:
    return team(eco).datastores[0]


def customers(eco: Ecosystem) -> Dataset:
    dataset = store(eco).getDataset("customers")
    assert dataset is not None
    return dataset


def consumer_db(eco: Ecosystem) -> PostgresDatabase:
    """Consumer2's own database."""
    db = team(eco).workspaces[1].container
    assert isinstance(db, PostgresDatabase)
    return db


def live_dsg(eco: Ecosystem) -> DatasetGroup:
    group = team(eco).workspaces[0].getDSG("LiveDSG")
    assert group is not None
    return group


def add_column(eco: Ecosystem, column: DDLColumn) -> None:
    customers(eco).schema.columns.append(column)


def set_attr(obj_of: Callable[[Ecosystem], object], name: str, value: object) -> Callable[[Ecosystem], None]:
    return lambda eco: setattr(obj_of(eco), name, value)


# (rule, expected path, mutation of the clean MVP model)
TRIGGERS: list[tuple[str, str, Callable[[Ecosystem], None]]] = [
    (
        "credential-not-granted",
        STORE,
        lambda e: setattr(store(e).capture_metadata, "credential", Credential("other", CredentialType.USER_PASSWORD)),
    ),
    (
        "credential-grant-invalid",
        "zone:USA/team-declaration:team1",
        lambda e: zone(e).team_declarations[0].credentials.append(Credential("other", CredentialType.USER_PASSWORD)),
    ),
    (
        "credential-platform-reserved",
        STORE,
        lambda e: setattr(
            store(e).capture_metadata, "credential", Credential("postgres-merge", CredentialType.USER_PASSWORD)
        ),
    ),
    (
        "capture-merge-database",
        STORE,
        lambda e: setattr(
            store(e).capture_metadata, "dataContainer", e.getDataPlatformOrThrow("YellowLive").merge_datacontainer
        ),
    ),
    (
        "name-collision",
        CONSUMER,
        lambda e: team(e).workspaces.append(Workspace("CONSUMER1", DatasetGroup("Salaries"))),
    ),
    (
        "identifier-invalid",
        f"{CUSTOMERS}/column:first-name",
        lambda e: add_column(e, DDLColumn("first-name", VarChar(10))),
    ),
    (
        "identifier-invalid",
        f"{STORE}/dataset:{'x' * 64}",
        lambda e: store(e).add(
            Dataset("x" * 64, DDLTable([DDLColumn("id", VarChar(5), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK)]))
        ),
    ),
    ("identifier-reserved", f"{CUSTOMERS}/column:order", lambda e: add_column(e, DDLColumn("order", VarChar(10)))),
    (
        "identifier-reserved",
        f"{CUSTOMERS}/column:ds_surf_batch_in",
        lambda e: add_column(e, DDLColumn("ds_surf_batch_in", VarChar(10))),
    ),
    ("name-duplicate", f"{CUSTOMERS}/column:EMAIL", lambda e: add_column(e, DDLColumn("EMAIL", VarChar(10)))),
    ("name-duplicate", f"{STORE}/dataset:customers", lambda e: store(e).add(customers(e))),
    ("name-duplicate", "store:Store1", lambda e: team(e).add(Datastore("Store1"))),
    ("zone-undeclared", "zone:EU", lambda e: e.zones.append(GovernanceZone("EU"))),
    ("team-undeclared", "zone:USA/team:ghost", lambda e: zone(e).teams.append(Team("ghost"))),
    (
        "reference-unresolved",
        f"{CONSUMER}/dsg:LiveDSG/sink:Store1.orders",
        lambda e: live_dsg(e).sinks.append(DatasetSink("Store1", "orders")),
    ),
    (
        "reference-unresolved",
        f"{CONSUMER}/dsg:LiveDSG/sink:Nowhere.customers",
        lambda e: live_dsg(e).sinks.append(DatasetSink("Nowhere", "customers")),
    ),
    (
        "mapping-reference",
        "mapping:Consumer1/NoSuchDSG",
        lambda e: e.dsg_platform_mappings.append(
            DSGPlatformMapping(dsgName="NoSuchDSG", workspace="Consumer1", assignments=[])
        ),
    ),
    (
        "mapping-reference",
        "mapping:Consumer1/LiveDSG",
        lambda e: e.dsg_platform_mappings[1].assignments.append(DSGPlatformAssignment(dataPlatform="YellowGhost")),
    ),
    (
        "mapping-duplicate",
        "mapping:Consumer1/LiveDSG",
        lambda e: e.dsg_platform_mappings.append(e.dsg_platform_mappings[1]),
    ),
    (
        "dsg-unassigned",
        f"{CONSUMER}/dsg:LiveDSG",
        lambda e: setattr(e.dsg_platform_mappings[1].assignments[0], "status", AssignmentStatus.DECOMMISSIONED),
    ),
    ("dsg-retention-missing", f"{CONSUMER}/dsg:LiveDSG", set_attr(live_dsg, "platform_chooser", None)),
    ("dsg-empty", f"{CONSUMER}/dsg:LiveDSG", set_attr(live_dsg, "sinks", [])),
    ("dataset-empty", CUSTOMERS, lambda e: setattr(customers(e).schema, "columns", [])),
    (
        "primary-key-missing",
        CUSTOMERS,
        lambda e: setattr(customers(e).schema.columns[0], "primary_key", PrimaryKeyStatus.NOT_PK),
    ),
    (
        "primary-key-nullable",
        f"{CUSTOMERS}/column:id",
        lambda e: setattr(customers(e).schema.columns[0], "nullable", NullableStatus.NULLABLE),
    ),
    ("type-invalid", f"{CUSTOMERS}/column:note", lambda e: add_column(e, DDLColumn("note", VarChar(0)))),
    ("type-invalid", f"{CUSTOMERS}/column:amount", lambda e: add_column(e, DDLColumn("amount", Decimal(5, 7)))),
    ("classification-missing", CUSTOMERS, set_attr(customers, "classifications", [])),
    ("cron-invalid", STORE, lambda e: setattr(store(e).capture_metadata, "trigger", CronTrigger("bad", "61 * * * *"))),
    (
        "cron-invalid",
        "platform:YellowLive",
        lambda e: setattr(e.getDataPlatformOrThrow("YellowLive"), "schedule", CronTrigger("secs", "*/5 * * * * *")),
    ),
    ("datastore-no-ingestion", STORE, set_attr(store, "capture_metadata", None)),
    ("workspace-database-credential", CONSUMER2, set_attr(consumer_db, "credential", None)),
    (
        "workspace-database-credential",
        STORE,
        lambda e: setattr(store(e).capture_metadata.dataContainer, "credential", consumer_db(e).credential),
    ),
    (
        "workspace-database-merge",
        CONSUMER2,
        lambda e: (
            setattr(consumer_db(e), "hostPort", HostPortPair("PG-MERGE.datasurface.svc.cluster.local.", 5432))
            or setattr(consumer_db(e), "databaseName", "datasurface_merge")
        ),
    ),
    (
        "credential-not-granted",
        CONSUMER2,
        lambda e: setattr(consumer_db(e), "credential", Credential("team2-consumer", CredentialType.USER_PASSWORD)),
    ),
    (
        "credential-platform-reserved",
        CONSUMER2,
        lambda e: setattr(consumer_db(e), "credential", Credential("postgres-merge", CredentialType.USER_PASSWORD)),
    ),
    ("database-invalid", CONSUMER2, lambda e: setattr(consumer_db(e), "databaseName", "consumer-db")),
    (
        "credential-name-invalid",
        CONSUMER2,
        lambda e: setattr(consumer_db(e), "credential", Credential("Consumer_DB", CredentialType.USER_PASSWORD)),
    ),
    ("database-invalid", STORE, lambda e: setattr(store(e).capture_metadata.dataContainer.hostPort, "port", 70000)),
    (
        "database-invalid",
        "platform:YellowLive",
        lambda e: setattr(e.getDataPlatformOrThrow("YellowLive").merge_datacontainer, "databaseName", "merge-db"),
    ),
    (
        "credential-name-invalid",
        STORE,
        lambda e: setattr(
            store(e).capture_metadata, "credential", Credential("Postgres_Producer", CredentialType.USER_PASSWORD)
        ),
    ),
    (
        "repo-invalid",
        "zone:USA/team:team1",
        lambda e: setattr(zone(e).team_declarations[0].repo, "repositoryName", "no-slash"),
    ),
    ("repo-invalid", "ecosystem", lambda e: setattr(e.repo, "branchName", "bad..branch")),
    (
        "platform-config",
        "platform:YellowLive",
        set_attr(lambda e: e.getDataPlatformOrThrow("YellowLive"), "merge_datacontainer", None),
    ),
    (
        "platform-config",
        "platform:YellowLive",
        set_attr(lambda e: e.getDataPlatformOrThrow("YellowLive"), "postgresCredential", None),
    ),
    (
        "platform-config",
        "platform:YellowLive",
        set_attr(lambda e: e.getDataPlatformOrThrow("YellowLive"), "namespace", "Not_A_Namespace"),
    ),
    (
        "platform-milestone-mismatch",
        "mapping:Consumer1/LiveDSG",
        lambda e: setattr(e.getDataPlatformOrThrow("YellowLive"), "milestoneStrategy", YellowMilestoneStrategy.SCD2),
    ),
]

# Near misses: changes a careless rule would flag, but which are fine.
ALLOWED: list[tuple[str, Callable[[Ecosystem], None]]] = [
    (
        "nullable non-key column with underscores and digits",
        lambda e: add_column(e, DDLColumn("loyalty_tier_2", VarChar(10))),
    ),
    ("reserved word as part of a name", lambda e: add_column(e, DDLColumn("order_date", VarChar(10)))),
    (
        "unbounded string and a valid decimal",
        lambda e: add_column(e, DDLColumn("notes", String())) or add_column(e, DDLColumn("amount", Decimal(10, 2))),
    ),
    (
        "composite key of NOT NULL columns",
        lambda e: setattr(customers(e).schema.columns[1], "primary_key", PrimaryKeyStatus.PK),
    ),
    (
        "a second workspace in the same consumer database",
        lambda e: (
            team(e).add(
                Workspace(
                    "Consumer3",
                    consumer_db(e),
                    DatasetGroup("LiveDSG", [DatasetSink("Store1", "customers")], live_dsg(e).platform_chooser),
                )
            )
            or e.dsg_platform_mappings.append(
                DSGPlatformMapping(
                    dsgName="LiveDSG",
                    workspace="Consumer3",
                    assignments=next(m for m in e.dsg_platform_mappings if m.dsgName == "LiveDSG").assignments,
                )
            )
        ),
    ),
    ("cron macro", lambda e: setattr(store(e).capture_metadata, "trigger", CronTrigger("hourly", "@hourly"))),
    (
        "decommissioned extra assignment to a mismatched platform",
        lambda e: e.dsg_platform_mappings[1].assignments.append(
            DSGPlatformAssignment(dataPlatform="YellowForensic", status=AssignmentStatus.DECOMMISSIONED)
        ),
    ),
    (
        "column classification instead of dataset classification",
        lambda e: (
            setattr(customers(e), "classifications", [])
            or setattr(
                customers(e).schema.columns[0], "classifications", customers(build_template_ecosystem()).classifications
            )
        ),
    ),
]


def test_the_mvp_template_lints_clean(mvp: Ecosystem) -> None:
    assert lint(mvp) == []


@pytest.mark.parametrize(("rule", "path", "mutate"), TRIGGERS, ids=[f"{r}:{i}" for i, (r, _, _) in enumerate(TRIGGERS)])
def test_rule_triggers(rule: str, path: str, mutate: Callable[[Ecosystem], None]) -> None:
    eco = build_template_ecosystem()
    mutate(eco)
    findings = lint(eco)
    matching = [f for f in findings if f.rule == rule and f.path == path]
    assert matching, f"expected {rule} at {path}, got {findings}"
    assert matching[0].severity == RULES[rule].severity
    assert matching[0].message


@pytest.mark.parametrize(("label", "mutate"), ALLOWED, ids=[label for label, _ in ALLOWED])
def test_allowed_change_triggers_nothing(label: str, mutate: Callable[[Ecosystem], None]) -> None:
    eco = build_template_ecosystem()
    mutate(eco)
    assert lint(eco) == []


def test_every_lint_rule_has_a_triggering_case() -> None:
    lint_rules = {
        r.id for r in RULES.values() if r.stage == "lint"
    }  # load rules: test_sandbox.py, validate: test_validate.py
    assert lint_rules == {rule for rule, _, _ in TRIGGERS}


def test_rules_reference_is_up_to_date() -> None:

    from handler.reports.rules_reference import rules_markdown

    reference = (ROOT / "docs" / "rules.md").read_text()
    assert reference == rules_markdown(), "regenerate with: datasurface rules > docs/rules.md"
    from handler.rules import EXAMPLES

    assert set(EXAMPLES) == set(RULES), "every rule has an example in docs/rules.md"
    for rule in RULES.values():
        assert f"`{rule.id}`" in reference


def test_errors_come_before_warnings_and_have_stable_order() -> None:
    eco = build_template_ecosystem()
    customers(eco).classifications = []
    add_column(eco, DDLColumn("select", VarChar(3)))
    findings = lint(eco)
    assert [f.severity for f in findings] == [Severity.ERROR, Severity.WARNING]
    assert lint(eco) == findings


def test_datasurface_style_lint_call_inside_a_model(mvp: Ecosystem) -> None:
    report = mvp.lintAndHydrateCaches()
    assert not report.hasErrors() and not report.hasWarnings()
    customers(mvp).classifications = []
    assert mvp.lintAndHydrateCaches().hasWarnings()
