"""Pull-request validation scenarios, in the order an ecosystem lives them.

Each scenario asserts the verdict and the rule ids (and for errors, where they point).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handler.findings import error
from handler.loading import LoadResult
from handler.model import (
    BigInt,
    Char,
    DataLatency,
    Dataset,
    DDLColumn,
    DDLTable,
    Ecosystem,
    GitHubRepository,
    GovernanceZoneDeclaration,
    NullableStatus,
    PrimaryKeyStatus,
    SimpleDC,
    SimpleDCTypes,
    SmallInt,
    String,
    TeamDeclaration,
    Timestamp,
    VarChar,
)
from handler.reports.validation_report import MARKDOWN_LIMIT, to_dict, to_markdown
from handler.validation import ChangeSource, check_change
from tests.support.ecosystem_life import (
    CONSUMERS,
    ECO,
    TEAM1,
    ZONE,
    check,
    copy,
    initial,
    mapped,
    rules,
    running,
    store_defined,
    workspace_added,
    zone_defined,
)

STORE1 = "zone:USA/team:team1/store:Store1"
CUSTOMERS = f"{STORE1}/dataset:customers"


def edit(eco: Ecosystem, change: Callable[[Ecosystem], None]) -> Ecosystem:
    eco = copy(eco)
    change(eco)
    return eco


def customers(eco: Ecosystem) -> Dataset:
    store = eco.getZoneOrThrow("USA").getTeamOrThrow("team1").getStore("Store1")
    assert store is not None
    dataset = store.getDataset("customers")
    assert dataset is not None
    return dataset


def column(eco: Ecosystem, name: str) -> DDLColumn:
    found = customers(eco).schema.getColumnByName(name)
    assert found is not None
    return found


# --- the allowed life of an ecosystem ---------------------------------------------------------


def test_initial_checkin_from_the_ecosystem_repo_passes() -> None:
    result = check(None, initial(), ECO)
    assert result.verdict == "pass" and result.initial_checkin
    assert {c.path for c in result.changes} >= {"ecosystem", "zone-declaration:USA", "platform:YellowLive"}


def test_initial_checkin_from_another_repo_fails() -> None:
    result = check(None, initial(), ZONE)
    assert result.verdict == "fail" and rules(result) == {"auth-initial-checkin"}


def test_zone_repo_defines_its_zone_and_declares_teams() -> None:
    result = check(initial(), zone_defined(initial()), ZONE)
    assert result.verdict == "pass", result.findings
    assert {c.path for c in result.changes} == {
        "zone:USA",
        "zone:USA/team-declaration:team1",
        "zone:USA/team-declaration:consumers",
    }


def test_team_defines_a_datastore() -> None:
    base = zone_defined(initial())
    result = check(base, store_defined(base), TEAM1)
    assert result.verdict == "pass", result.findings
    # A new store is one change: its datasets and columns come with it.
    assert {(c.path, c.kind.value) for c in result.changes} == {("zone:USA/team:team1", "added"), (STORE1, "added")}


def test_consumer_team_adds_a_workspace_then_the_ecosystem_maps_it() -> None:
    base = store_defined(zone_defined(initial()))
    with_workspace = workspace_added(base)
    result = check(base, with_workspace, CONSUMERS)
    assert result.verdict == "pass", result.findings
    assert [f.rule for f in result.findings] == ["dsg-unassigned"]  # a warning until mapped
    assert check(with_workspace, mapped(with_workspace), ECO).verdict == "pass"


def test_widening_columns_and_adding_a_nullable_column_pass() -> None:
    def widen(eco: Ecosystem) -> None:
        column(eco, "age").type = BigInt()
        column(eco, "name").type = VarChar(200)
        column(eco, "dob").type = Timestamp()
        customers(eco).schema.columns.append(DDLColumn("email", String()))

    result = check(running(), edit(running(), widen), TEAM1)
    assert result.verdict == "pass", result.findings
    assert {(c.path.rsplit(":", 1)[1], c.kind.value) for c in result.changes} == {
        ("age", "modified"),
        ("name", "modified"),
        ("dob", "modified"),
        ("email", "added"),
    }


def test_removing_an_unused_dataset_passes() -> None:
    extra = Dataset(
        "orders",
        DDLTable([DDLColumn("id", VarChar(9), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK)]),
        [SimpleDC(SimpleDCTypes.PUB)],
    )
    with_orders = edit(
        running(), lambda e: e.getZoneOrThrow("USA").getTeamOrThrow("team1").getStore("Store1").add(extra)
    )  # type: ignore[union-attr]
    result = check(with_orders, running(), TEAM1)
    assert result.verdict == "pass", result.findings
    assert [(c.path, c.kind.value) for c in result.changes] == [(f"{STORE1}/dataset:orders", "removed")]


# --- forbidden changes (backwards compatibility, lint, acceptance) -----------------------------


def _remove_column(eco: Ecosystem) -> None:
    customers(eco).schema.columns = [c for c in customers(eco).schema.columns if c.name != "dob"]


FORBIDDEN: list[tuple[str, Callable[[Ecosystem], None], set[str], str]] = [
    ("remove a column", _remove_column, {"compat-column-removed"}, f"{CUSTOMERS}/column:dob"),
    (
        "shorten a string",
        lambda e: setattr(column(e, "name"), "type", VarChar(50)),
        {"compat-type-narrowed"},
        f"{CUSTOMERS}/column:name",
    ),
    (
        "narrow an integer",
        lambda e: setattr(column(e, "age"), "type", SmallInt()),
        {"compat-type-narrowed"},
        f"{CUSTOMERS}/column:age",
    ),
    (
        "change the kind of type",
        lambda e: setattr(column(e, "age"), "type", VarChar(10)),
        {"compat-type-kind-changed"},
        f"{CUSTOMERS}/column:age",
    ),
    (
        "a date becomes a string",
        lambda e: setattr(column(e, "dob"), "type", VarChar(10)),
        {"compat-type-kind-changed"},
        f"{CUSTOMERS}/column:dob",
    ),
    (
        "a varchar becomes a char",
        lambda e: setattr(column(e, "name"), "type", Char(200)),
        {"compat-type-kind-changed"},
        f"{CUSTOMERS}/column:name",
    ),
    (
        "make a nullable column NOT NULL",
        lambda e: setattr(column(e, "age"), "nullable", NullableStatus.NOT_NULLABLE),
        {"compat-nullability-changed"},
        f"{CUSTOMERS}/column:age",
    ),
    (
        "change the primary key",
        lambda e: setattr(column(e, "name"), "primary_key", PrimaryKeyStatus.PK),
        {"compat-key-changed"},
        f"{CUSTOMERS}/column:name",
    ),
    (
        "add a NOT NULL column",
        lambda e: customers(e).schema.columns.append(DDLColumn("email", VarChar(9), NullableStatus.NOT_NULLABLE)),
        {"compat-column-added-not-null"},
        f"{CUSTOMERS}/column:email",
    ),
    (
        "add a key column",
        lambda e: customers(e).schema.columns.append(
            DDLColumn("region", VarChar(9), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK)
        ),
        {"compat-column-added-key"},
        f"{CUSTOMERS}/column:region",
    ),
    (
        "add a column with a reserved name",
        lambda e: customers(e).schema.columns.append(DDLColumn("select", VarChar(9))),
        {"identifier-reserved"},
        f"{CUSTOMERS}/column:select",
    ),
]


@pytest.mark.parametrize(("label", "change", "expected", "path"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_forbidden_change_fails_with_its_rule(
    label: str, change: Callable[[Ecosystem], None], expected: set[str], path: str
) -> None:
    result = check(running(), edit(running(), change), TEAM1)
    assert result.verdict == "fail"
    assert rules(result) == expected
    assert path in {f.path for f in result.findings if f.rule in expected}


def test_removing_a_dataset_still_in_use_names_the_workspaces() -> None:
    def drop(eco: Ecosystem) -> None:
        store = eco.getZoneOrThrow("USA").getTeamOrThrow("team1").getStore("Store1")
        assert store is not None
        store.datasets = []

    result = check(running(), edit(running(), drop), TEAM1)
    assert result.verdict == "fail"
    assert {"compat-dataset-in-use", "reference-unresolved"} <= rules(result)
    in_use = next(f for f in result.findings if f.rule == "compat-dataset-in-use")
    assert in_use.path == CUSTOMERS and "Consumer1/LiveDSG" in in_use.message


def test_group_needing_seconds_latency_is_not_accepted_by_yellow() -> None:
    def seconds(eco: Ecosystem) -> None:
        group = eco.getZoneOrThrow("USA").getTeamOrThrow("consumers").workspaces[0].dsgs[0]
        assert group.platform_chooser is not None
        group.platform_chooser.hist.latency = DataLatency.SECONDS

    result = check(running(), edit(running(), seconds), CONSUMERS)
    assert rules(result) == {"platform-latency"}


def test_store_without_capture_cannot_be_served() -> None:
    def no_capture(eco: Ecosystem) -> None:
        store = eco.getZoneOrThrow("USA").getTeamOrThrow("team1").getStore("Store1")
        assert store is not None
        store.capture_metadata = None

    result = check(running(), edit(running(), no_capture), TEAM1)
    assert rules(result) == {"platform-unsupported-capture"}
    assert any(f.rule == "datastore-no-ingestion" for f in result.findings)  # and lint warns


# --- unauthorized changes ----------------------------------------------------------------------


def test_team_editing_another_teams_store_is_rejected() -> None:
    result = check(
        running(), edit(running(), lambda e: customers(e).schema.columns.append(DDLColumn("note", String()))), CONSUMERS
    )
    assert rules(result) == {"auth-not-owner"}
    finding = result.findings[0]
    assert finding.path == f"{CUSTOMERS}/column:note"
    assert "owned by acme/model@team1" in finding.message


def test_zone_repo_injecting_a_team_into_another_zone_is_rejected() -> None:
    eu = GitHubRepository("acme/model", "zone-eu")
    base = edit(running(), lambda e: e.governance_zone_declarations.append(GovernanceZoneDeclaration("EU", eu)))
    head = edit(
        base,
        lambda e: e.getZoneOrThrow("EU").add(TeamDeclaration("intruder", GitHubRepository("acme/model", "intruder"))),
    )
    result = check(base, head, ZONE)
    assert rules(result) == {"auth-not-owner"}
    assert {f.path for f in result.findings if f.is_error} == {"zone:EU", "zone:EU/team-declaration:intruder"}
    assert check(base, head, eu).verdict == "pass"  # the EU zone's own repo may


def test_team_re_pointing_its_own_declaration_is_rejected() -> None:
    other = GitHubRepository("acme/model", "team1-fork")
    head = edit(running(), lambda e: setattr(e.getZoneOrThrow("USA").getTeamDeclaration("team1"), "repo", other))
    result = check(running(), head, TEAM1)
    assert rules(result) == {"auth-not-owner"}
    assert result.findings[0].path == "zone:USA/team-declaration:team1"


def test_a_stranger_repository_owns_nothing() -> None:
    result = check(
        running(),
        edit(running(), lambda e: customers(e).schema.columns.append(DDLColumn("x", String()))),
        ChangeSource("mallory/model", "main"),
    )
    assert rules(result) == {"auth-unknown-source"}


def test_a_repository_differing_only_in_letter_case_is_a_stranger() -> None:
    head = edit(running(), lambda e: customers(e).schema.columns.append(DDLColumn("x", String())))
    for impostor in (ChangeSource("Acme/model", "team1"), ChangeSource("acme/model", "Team1")):
        result = check(running(), head, impostor)
        assert rules(result) == {"auth-unknown-source"}
        assert "differs only in letter case" in result.findings[0].message


def test_zone_creation_takes_two_steps() -> None:
    eu = GitHubRepository("acme/model", "zone-eu")

    def declare_and_define(eco: Ecosystem) -> None:
        eco.governance_zone_declarations.append(GovernanceZoneDeclaration("EU", eu))
        eco.getZoneOrThrow("EU").add(TeamDeclaration("t", GitHubRepository("acme/model", "t")))

    result = check(running(), edit(running(), declare_and_define), ECO)
    assert rules(result) == {"auth-not-owner"}
    step1 = edit(running(), lambda e: e.governance_zone_declarations.append(GovernanceZoneDeclaration("EU", eu)))
    assert check(running(), step1, ECO).verdict == "pass"
    assert check(step1, edit(running(), declare_and_define), eu).verdict == "pass"


def test_team_removal_takes_two_steps() -> None:
    def empty_team(eco: Ecosystem) -> None:
        team = eco.getZoneOrThrow("USA").getTeamOrThrow("consumers")
        team.workspaces = []
        eco.dsg_platform_mappings = []

    def undeclare(eco: Ecosystem) -> None:
        zone = eco.getZoneOrThrow("USA")
        zone.team_declarations = [t for t in zone.team_declarations if t.name != "consumers"]
        zone.teams = [t for t in zone.teams if t.name != "consumers"]

    both = edit(edit(running(), empty_team), undeclare)
    assert "auth-not-owner" in rules(check(running(), both, ZONE))  # the zone cannot remove the team's workspace
    without_mapping = edit(running(), lambda e: setattr(e, "dsg_platform_mappings", []))
    emptied = edit(without_mapping, empty_team)
    assert check(without_mapping, emptied, CONSUMERS).verdict == "pass"
    assert check(emptied, both, ZONE).verdict == "pass"


def test_changing_workflow_files_in_a_model_pr_is_rejected() -> None:
    result = check(
        running(),
        running(),
        TEAM1,
        files=(".github/workflows/validate.yml", "requirements.txt", "eco.py", "docs/README.md"),
    )
    assert rules(result) == {"files-forbidden"}
    assert {f.path for f in result.findings} == {"file:.github/workflows/validate.yml", "file:requirements.txt"}


def test_a_base_that_does_not_load_is_reported_not_taken_as_initial() -> None:
    broken = LoadResult(None, [error("load-syntax", "file:eco.py:3", "SyntaxError: invalid syntax at eco.py:3")])
    result = check_change(broken, LoadResult(running()), ChangeSource("acme/model", "team1"), ["eco.py"])
    assert result.verdict == "fail" and not result.initial_checkin
    assert rules(result) == {"base-unloadable"}
    assert "eco.py:3" in result.findings[0].message


# --- reports -----------------------------------------------------------------------------------


def test_json_report_shape() -> None:
    result = check(running(), edit(running(), _remove_column), TEAM1)
    report = to_dict(result)
    assert report["verdict"] == "fail" and report["source"] == "acme/model@team1"
    assert report["findings"] == [
        {
            "rule": "compat-column-removed",
            "severity": "error",
            "path": f"{CUSTOMERS}/column:dob",
            "message": report["findings"][0]["message"],
        }
    ]
    assert report["changes"] == [{"path": f"{CUSTOMERS}/column:dob", "kind": "removed"}]


def test_markdown_puts_the_verdict_first_and_says_what_to_do() -> None:
    result = check(running(), edit(running(), _remove_column), TEAM1)
    text = to_markdown(result)
    assert text.startswith("## ❌ DataSurface: this change must not merge yet")
    assert f"**`{CUSTOMERS}/column:dob`**" in text
    assert "*What to do:* Keep the column" in text
    assert text.index("### Errors") < text.index("### Model changes")


def test_markdown_stays_under_the_comment_limit_for_huge_changes() -> None:
    def many(eco: Ecosystem) -> None:
        store = eco.getZoneOrThrow("USA").getTeamOrThrow("team1").getStore("Store1")
        assert store is not None
        for i in range(3000):
            store.add(Dataset(f"bad_{i}", DDLTable([DDLColumn("id", VarChar(9))])))

    result = check(running(), edit(running(), many), TEAM1)
    text = to_markdown(result)
    assert len(text) <= MARKDOWN_LIMIT
    assert "This report was shortened" in text and "### Errors" in text


def test_a_passing_change_carries_the_merge_preview() -> None:
    result = check(
        running(), edit(running(), lambda e: customers(e).schema.columns.append(DDLColumn("email", String()))), TEAM1
    )
    assert result.verdict == "pass" and result.preview is not None
    assert [(i.category, i.name, i.kind) for i in result.preview.of("stream")] == [
        ("stream", "YellowLive/Store1", "changed")
    ]
    text = to_markdown(result)
    assert text.index("### Model changes") < text.index("### Merge preview")


def test_a_failing_change_has_no_preview() -> None:
    result = check(running(), edit(running(), _remove_column), TEAM1)
    assert result.preview is None and "Merge preview" not in to_markdown(result)


# --- credentials and databases belong to their owners ------------------------------------------


def pointed_at(eco: Ecosystem, credential: str, host: str = "producer", database: str = "customer_db") -> Ecosystem:
    from handler.model import Credential, CredentialType, HostPortPair, PostgresDatabase

    eco = copy(eco)
    store = eco.getZoneOrThrow("USA").getTeamOrThrow("team1").getStore("Store1")
    assert store is not None and store.capture_metadata is not None
    store.capture_metadata.credential = Credential(credential, CredentialType.USER_PASSWORD)
    store.capture_metadata.dataContainer = PostgresDatabase(
        "Src", hostPort=HostPortPair(host, 5432), databaseName=database
    )
    return eco


def test_a_team_cannot_read_the_merge_database_with_the_platforms_credential() -> None:
    """The attack: team1 points Store1 at the merge database, with the platform's own secret."""
    result = check(running(), pointed_at(running(), "postgres-merge", host="merge", database="merge"), TEAM1)
    assert result.verdict == "fail"
    assert rules(result) >= {"credential-platform-reserved", "capture-merge-database"}


def test_a_team_cannot_use_a_credential_it_was_not_granted() -> None:
    result = check(running(), pointed_at(running(), "team2-producer"), TEAM1)
    assert result.verdict == "fail" and rules(result) == {"credential-not-granted"}


def test_a_grant_and_its_use_come_in_two_pull_requests_from_their_owners() -> None:
    from handler.model import Credential, CredentialType

    billing = Credential("billing-db", CredentialType.USER_PASSWORD)
    base = running()
    granted_to_zone = copy(base)
    granted_to_zone.getZoneDeclaration("USA").credentials.append(billing)  # type: ignore[union-attr]
    assert check(base, granted_to_zone, ECO).verdict == "pass"
    granted_to_team = copy(granted_to_zone)
    granted_to_team.getZoneOrThrow("USA").getTeamDeclaration("team1").credentials.append(billing)  # type: ignore[union-attr]
    assert check(granted_to_zone, granted_to_team, ZONE).verdict == "pass"
    used = pointed_at(granted_to_team, "billing-db", host="billing")
    result = check(granted_to_team, used, TEAM1)
    assert result.verdict == "pass", result.findings


def test_a_team_cannot_grant_itself_a_credential() -> None:
    from handler.model import Credential, CredentialType

    base = running()
    head = pointed_at(base, "billing-db", host="billing")
    head.getZoneOrThrow("USA").getTeamDeclaration("team1").credentials.append(  # type: ignore[union-attr]
        Credential("billing-db", CredentialType.USER_PASSWORD)
    )
    result = check(base, head, TEAM1)
    assert result.verdict == "fail" and {"auth-not-owner", "credential-grant-invalid"} <= rules(result)


def test_a_zone_cannot_grant_what_the_ecosystem_did_not_grant_it() -> None:
    from handler.model import Credential, CredentialType

    base = running()
    head = copy(base)
    head.getZoneOrThrow("USA").getTeamDeclaration("team1").credentials.append(  # type: ignore[union-attr]
        Credential("another-zones-db", CredentialType.USER_PASSWORD)
    )
    result = check(base, head, ZONE)
    assert result.verdict == "fail" and rules(result) == {"credential-grant-invalid"}
