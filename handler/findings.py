"""Findings: what checks report. ``{rule, severity, path, message}``; errors block a merge."""

from __future__ import annotations

from enum import Enum

import msgspec


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


class Finding(msgspec.Struct, frozen=True, order=True):
    """One problem. ``path`` is the model path of the offending object, e.g.
    ``zone:USA/team:team1/store:Store1/dataset:customers/column:id``, or ``file:NAME[:LINE]``."""

    rule: str
    severity: Severity
    path: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR


def error(rule: str, path: str, message: str) -> Finding:
    return Finding(rule, Severity.ERROR, path, message)


def warning(rule: str, path: str, message: str) -> Finding:
    return Finding(rule, Severity.WARNING, path, message)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.is_error for f in findings)
