"""Findings as text (Rich), JSON or Markdown."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from handler.findings import Finding, Severity
from handler.reports.markdown import code, escape
from handler.rules import RULES


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def summary(findings: list[Finding]) -> str:
    errors = sum(1 for f in findings if f.severity == Severity.ERROR)
    warnings = len(findings) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def to_json(findings: Iterable[Finding]) -> str:
    return msgspec.json.encode({"findings": list(findings)}).decode() + "\n"


def to_markdown(title: str, findings: list[Finding]) -> str:
    errors = [f for f in findings if f.severity == Severity.ERROR]
    verdict = "❌ **Errors found**" if errors else "✅ **Clean**"
    lines = [f"### {escape(title)}", "", f"{verdict}: {summary(findings)}", ""]
    if findings:
        lines += ["| severity | rule | where | problem | what to do |", "|---|---|---|---|---|"]
        for f in findings:
            fix = RULES[f.rule].fix if f.rule in RULES else ""
            cells = [f.severity.value, code(f.rule, in_table=True), code(f.path, in_table=True), escape(f.message), fix]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_text(console: Console, title: str, findings: list[Finding]) -> None:
    if not findings:
        console.print(Text.assemble(("✔", "green"), f" {title}: clean ({summary(findings)})"), soft_wrap=True)
        return
    table = Table(show_lines=False, expand=False)
    for column in ("severity", "rule", "where", "problem"):
        table.add_column(column, overflow="fold")
    for f in findings:
        style = "red" if f.severity == Severity.ERROR else "yellow"
        table.add_row(Text(f.severity.value, style=style), Text(f.rule), Text(f.path), Text(f.message))
    console.print(table)
    mark = ("✘", "red") if any(f.severity == Severity.ERROR for f in findings) else ("!", "yellow")
    console.print(Text.assemble(mark, f" {title}: {summary(findings)}"), soft_wrap=True)
