"""The merge preview as text, JSON or a Markdown section."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from handler.render.preview import Preview
from handler.reports.markdown import code, fenced

_CATEGORIES = (
    ("platform", "Platforms"),
    ("stream", "Ingestion streams (CronWorkflows)"),
    ("view", "Consumer views"),
    ("file", "Files"),
)
_MARK = {"added": "+", "removed": "-", "changed": "~"}


def to_dict(p: Preview) -> dict[str, Any]:
    return {
        "items": [{"category": i.category, "name": i.name, "kind": i.kind} for i in p.items],
        "diffs": p.diffs,
    }


def counts(p: Preview, category: str) -> str:
    items = p.of(category)
    parts = [f"{sum(1 for i in items if i.kind == k)} {k}" for k in ("added", "changed", "removed")]
    return ", ".join(parts)


def print_preview(console: Console, p: Preview) -> None:
    if p.empty:
        console.print("The merge changes nothing in the deployment repository.")
        return
    for category, title in _CATEGORIES:
        items = p.of(category)
        if not items:
            continue
        console.print(f"{title}: {counts(p, category)}", soft_wrap=True)
        table = Table(show_header=False)
        table.add_column("", width=1)
        table.add_column("name", overflow="fold")
        for item in items:
            table.add_row(_MARK[item.kind], Text(item.name))
        console.print(table)
    for path, diff in p.diffs.items():
        console.print(Text(path, style="bold"))
        console.print(diff, markup=False, highlight=False)


def to_markdown(p: Preview, heading: str = "### Merge preview") -> str:
    lines = [heading, ""]
    if p.empty:
        return "\n".join([*lines, "The merge changes nothing in the deployment repository.", ""])
    for category, title in _CATEGORIES[:3]:
        items = p.of(category)
        if items:
            lines.append(f"**{title}**: {counts(p, category)}")
            lines += [f"- `{_MARK[i.kind]}` {i.kind} {code(i.name)}" for i in items[:50]]
            if len(items) > 50:
                lines.append(f"- ... and {len(items) - 50} more")
            lines.append("")
    files = p.of("file")
    lines += [f"<details><summary>Deployment files: {counts(p, 'file')}</summary>", ""]
    lines += [f"- `{_MARK[i.kind]}` {code(i.name)}" for i in files[:200]]
    for path, diff in list(p.diffs.items())[:20]:
        lines += ["", code(path), *fenced(diff, "diff")]
    lines += ["", "</details>", ""]
    return "\n".join(lines)
