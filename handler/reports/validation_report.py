"""The validation report: JSON for machines, text for terminals, Markdown for the bot's comment."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

from handler.findings import Finding, Severity
from handler.reports import preview_report
from handler.reports.findings_report import print_text, summary
from handler.reports.markdown import code, escape
from handler.rules import RULES
from handler.validation import ValidationResult

MARKDOWN_LIMIT = 60_000
UNSANDBOXED = "The model code ran WITHOUT the full sandbox, as this machine's configuration allows"
_COLLAPSE_AFTER = 10  # list items shown before a section is folded into <details>


def to_dict(result: ValidationResult) -> dict[str, Any]:
    return {
        "verdict": result.verdict,
        "source": str(result.source),
        "initial_checkin": result.initial_checkin,
        "findings": [msgspec.to_builtins(f) for f in result.findings],
        "changes": [{"path": c.path, "kind": c.kind.value} for c in result.changes],
        "changed_files": result.changed_files,
        "preview": preview_report.to_dict(result.preview) if result.preview is not None else None,
        "unsandboxed": result.unsandboxed,
    }


def to_json(result: ValidationResult) -> str:
    return msgspec.json.encode(to_dict(result)).decode() + "\n"


def print_validation(console: Console, result: ValidationResult) -> None:
    title = f"validate {result.source}" + (" (initial check-in)" if result.initial_checkin else "")
    if result.unsandboxed:
        console.print(f"[bold red]{UNSANDBOXED}[/] ({result.unsandboxed})", soft_wrap=True, markup=True)
    if result.changes:
        table = Table(title=f"{len(result.changes)} model changes", title_justify="left")
        table.add_column("change")
        table.add_column("object", overflow="fold")
        for change in result.changes[:50]:
            table.add_row(change.kind.value, change.path)
        if len(result.changes) > 50:
            table.add_row("...", f"and {len(result.changes) - 50} more")
        console.print(table)
    print_text(console, title, result.findings)
    if result.preview is not None:
        console.print("[bold]Merge preview[/bold]")
        preview_report.print_preview(console, result.preview)
    verdict = "[green]PASS[/green]: may merge" if result.verdict == "pass" else "[red]FAIL[/red]: must not merge"
    console.print(f"verdict: {verdict}", soft_wrap=True)


class _Budget:
    """Collects Markdown lines up to a character budget, keeping room for a closing summary."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.limit = limit
        self.dropped = 0

    def add(self, *lines: str) -> bool:
        needed = sum(len(line) + 1 for line in lines)
        if self.size + needed > self.limit:
            self.dropped += 1
            return False
        self.lines.extend(lines)
        self.size += needed
        return True


def to_markdown(result: ValidationResult, limit: int = MARKDOWN_LIMIT, against: str | None = None) -> str:
    """The bot's comment. Every name and message from the model is escaped (``handler.reports.markdown``).

    ``against`` names the base it was judged against (``main abc1234``)."""
    out = _Budget(limit - 600)  # room for the truncation notice and closing tags
    _header(out, result, against)
    errors = [f for f in result.findings if f.severity == Severity.ERROR]
    warnings = [f for f in result.findings if f.severity == Severity.WARNING]
    if errors:
        _findings_section(out, "Errors", errors, fold=False)
    if warnings:
        _findings_section(out, "Warnings", warnings, fold=len(warnings) > _COLLAPSE_AFTER)
    if result.changes:
        _changes_section(out, result)
    if result.preview is not None:
        out.add(preview_report.to_markdown(result.preview))
    text = "\n".join(out.lines)
    if out.dropped:
        text += (
            "\n\n> ⚠️ This report was shortened to fit a comment. Run "
            f"`datasurface validate --format json` locally for all {len(result.findings)} findings "
            f"and {len(result.changes)} changes.\n"
        )
    return text[:limit]


def _header(out: _Budget, result: ValidationResult, against: str | None) -> None:
    if result.unsandboxed:
        out.add(f"> ⚠️ **{UNSANDBOXED}**: {escape(result.unsandboxed)}", "")
    if result.verdict == "pass":
        out.add("## ✅ DataSurface: this change may merge", "")
    else:
        out.add("## ❌ DataSurface: this change must not merge yet", "")
    facts = [
        f"source {code(str(result.source))}",
        summary(result.findings),
        f"{len(result.changes)} model change{'s' * (len(result.changes) != 1)}",
    ]
    if result.initial_checkin:
        facts.append("initial check-in")
    if against:
        facts.append(f"merged into {code(against)}")
    out.add(" · ".join(facts), "")


def _changes_section(out: _Budget, result: ValidationResult) -> None:
    fold = len(result.changes) > _COLLAPSE_AFTER
    out.add("### Model changes", "")
    if fold:
        out.add(f"<details><summary>{len(result.changes)} objects added, changed or removed</summary>", "")
    out.add("| change | object |", "|---|---|")
    for change in result.changes:
        if not out.add(f"| {change.kind.value} | {code(change.path, in_table=True)} |"):
            break
    out.add("")
    if fold:
        out.add("</details>", "")


def _findings_section(out: _Budget, title: str, findings: list[Finding], fold: bool) -> None:
    out.add(f"### {title}", "")
    if fold:
        out.add(f"<details><summary>{len(findings)} {title.lower()}</summary>", "")
    by_object: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_object[f.path].append(f)
    for path, group in by_object.items():
        lines = [f"**{code(path)}**", ""]
        for f in group:
            lines.append(f"- {code(f.rule)}: {escape(f.message)}")
            if f.rule in RULES:
                lines.append(f"  - *What to do:* {RULES[f.rule].fix}")
        lines.append("")
        if not out.add(*lines):
            break
    if fold:
        out.add("</details>", "")
