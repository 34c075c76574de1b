"""Merge preview: what merging head would add, change and remove in the deployment repo (pure)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from handler.model.ecosystem import Ecosystem
from handler.render.streams import Stream
from handler.render.tree import MANIFEST_PATH, RenderOptions, all_streams, render_tree

DIFF_LINES = 40  # shown per changed file
DIFF_MAX_INPUT = 4000  # lines; larger files are summarized (difflib is quadratic in the worst case)


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


def _streams(
    eco: Ecosystem | None, all_specs: dict[str, list[Stream]]
) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    platforms: dict[str, object] = {}
    streams: dict[str, object] = {}
    views: dict[str, object] = {}
    if eco is None:
        return platforms, streams, views
    for platform in eco.data_platforms:
        specs = all_specs[platform.name]
        platforms[platform.name] = (platform.milestoneStrategy.value, platform.namespace)
        for spec in specs:
            streams[f"{platform.name}/{spec.stream}"] = spec.spec_json
            for view, columns in spec.views.items():
                views[f"{platform.name}: {view}"] = columns
    return platforms, streams, views


def preview(base: Ecosystem | None, head: Ecosystem, options: RenderOptions | None = None) -> Preview:
    """Render both models and compare: platforms, streams, views, and files with short diffs."""
    options = options or RenderOptions()
    base_specs = all_streams(base) if base is not None else {}
    head_specs = all_streams(head)
    before_tree = render_tree(base, options, streams=base_specs) if base is not None else {}
    after_tree = render_tree(head, options, streams=head_specs)
    result = Preview()
    for category, b, a in zip(
        ("platform", "stream", "view"), _streams(base, base_specs), _streams(head, head_specs), strict=True
    ):
        result.items += _compare(category, b, a)
    files_b = {k: v for k, v in before_tree.items() if k != MANIFEST_PATH}
    files_a = {k: v for k, v in after_tree.items() if k != MANIFEST_PATH}
    result.items += _compare("file", files_b, files_a)  # type: ignore[arg-type]
    for item in result.of("file"):
        if item.kind == "changed":
            before, after = files_b[item.name], files_a[item.name]
            if before.count(b"\n") + after.count(b"\n") > DIFF_MAX_INPUT:
                result.diffs[item.name] = f"(too large for an inline diff: {len(before):,} -> {len(after):,} bytes)"
                continue
            old, new = before.decode().splitlines(), after.decode().splitlines()
            lines = list(difflib.unified_diff(old, new, f"a/{item.name}", f"b/{item.name}", lineterm="", n=2))
            if len(lines) > DIFF_LINES:
                lines = [*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more lines"]
            result.diffs[item.name] = "\n".join(lines)
    return result
