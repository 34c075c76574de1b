"""Lint: the rules a model must satisfy on its own (reference: docs/rules.md).

Pure functions over an ``Ecosystem``; each finding has a stable rule id (see ``rules.py``).
"""

from __future__ import annotations

from handler.findings import Finding, Severity
from handler.lint.credentials import check_credentials
from handler.lint.derived_names import check_derived_names
from handler.lint.names import check_names
from handler.lint.platforms import check_platforms_and_capture
from handler.lint.references import check_declarations, check_mappings, check_sinks
from handler.lint.schemas import check_schemas
from handler.lint.workspace_databases import check_workspace_databases
from handler.model.ecosystem import Ecosystem
from handler.rules import RULES, Rule

_CHECKS = (
    check_names,
    check_derived_names,
    check_credentials,
    check_declarations,
    check_sinks,
    check_mappings,
    check_schemas,
    check_platforms_and_capture,
    check_workspace_databases,
)


class LintReport:
    """Findings of a lint run, with DataSurface's ValidationTree method names."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.WARNING]

    def hasErrors(self) -> bool:
        return bool(self.errors)

    def hasWarnings(self) -> bool:
        return bool(self.warnings)

    def printTree(self) -> None:
        for f in self.findings:
            print(f"{f.severity.value}: {f.path}: {f.message} [{f.rule}]")


def lint(eco: Ecosystem) -> list[Finding]:
    """All findings, errors first, then by path and rule."""
    return sort_findings([finding for check in _CHECKS for finding in check(eco)])


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Deduplicated; errors first, then by path, rule and message."""
    return sorted(set(findings), key=lambda f: (f.severity != Severity.ERROR, f.path, f.rule, f.message))


def lint_ecosystem(eco: Ecosystem) -> LintReport:
    return LintReport(lint(eco))


Ecosystem.linter = lint_ecosystem


__all__ = ["RULES", "LintReport", "Rule", "lint", "lint_ecosystem", "sort_findings"]
