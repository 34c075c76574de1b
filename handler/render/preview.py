"""Merge preview: what merging head would add, change and remove in the deployment repo (pure)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Optional

from handler.model.ecosystem import Ecosystem
from handler.render.streams import platform_streams
from handler.render.tree import MANIFEST_PATH, RenderOptions, render_tree

DIFF_LINES = 40  # per changed file


@dataclass(frozen=True)
class PreviewItem:
    category: str  # platform, stream, view, file
    name: str
    kind: str  # added, changed, removed


@dataclass
class Preview:
    items: list[PreviewItem] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)

    def of(self, category: str) -> list[PreviewItem]:
        return [i for i in self.items if i.category == category]

    @property
    def empty(self) -> bool:
        return not self.items


def _compare(category: str, before: dict[str, object], after: dict[str, object]) -> list[PreviewItem]:
    items = []
    for name in sorted(before.keys() | after.keys()):
        if name not in before:
            items.append(PreviewItem(category, name, "added"))
        elif name not in after:
            items.append(PreviewItem(category, name, "removed"))
        elif before[name] != after[name]:
            items.append(PreviewItem(category, name, "changed"))
    return items


def _streams(eco: Optional[Ecosystem]) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    platforms: dict[str, object] = {}
    streams: dict[str, object] = {}
    views: dict[str, object] = {}
    if eco is None:
        return platforms, streams, views
    for platform in eco.data_platforms:
        specs = platform_streams(eco, platform)
        platforms[platform.name] = (platform.milestoneStrategy.value, platform.namespace)
        for spec in specs:
            streams[f"{platform.name}/{spec.stream}"] = spec.to_json()
            for view in spec.views:
                dataset = next(d for d in spec.datasets if d.name == view.dataset)
                columns = [c.name for c in dataset.columns]
                views[f"{platform.name}: {view.schema_name}.{view.live_view}"] = columns
                if view.history_view:
                    views[f"{platform.name}: {view.schema_name}.{view.history_view}"] = columns
    return platforms, streams, views


def preview(base: Optional[Ecosystem], head: Ecosystem, options: Optional[RenderOptions] = None) -> Preview:
    """Render both models and compare: platforms, streams, views, and files with short diffs."""
    options = options or RenderOptions()
    before_tree = render_tree(base, options) if base is not None else {}
    after_tree = render_tree(head, options)
    result = Preview()
    for category, b, a in zip(("platform", "stream", "view"), _streams(base), _streams(head)):
        result.items += _compare(category, b, a)
    files_b = {k: v for k, v in before_tree.items() if k != MANIFEST_PATH}
    files_a = {k: v for k, v in after_tree.items() if k != MANIFEST_PATH}
    result.items += _compare("file", files_b, files_a)  # type: ignore[arg-type]
    for item in result.of("file"):
        if item.kind == "changed":
            lines = list(difflib.unified_diff(
                files_b[item.name].decode().splitlines(), files_a[item.name].decode().splitlines(),
                f"a/{item.name}", f"b/{item.name}", lineterm="", n=2,
            ))
            if len(lines) > DIFF_LINES:
                lines = lines[:DIFF_LINES] + [f"... {len(lines) - DIFF_LINES} more lines"]
            result.diffs[item.name] = "\n".join(lines)
    return result
