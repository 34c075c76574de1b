"""Which files a pull request may change: model sources, mapping files and docs only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from handler.findings import Finding, error

ALLOWED_DATA_FILES = frozenset({"dsg_platform_mapping.json", "primary_ingestion_platforms.json"})


def file_problem(path: str) -> str | None:
    p = PurePosixPath(path)
    if p.parts and p.parts[0] == ".github":
        return "CI workflows and actions are managed by the platform team, not by model pull requests"
    if p.suffix in (".py", ".md") or p.name in ALLOWED_DATA_FILES:
        return None
    return "only model sources (*.py), dsg_platform_mapping.json, primary_ingestion_platforms.json and docs (*.md) may change"


def check_changed_files(paths: Iterable[str]) -> Iterator[Finding]:
    for path in sorted(set(paths)):
        problem = file_problem(path)
        if problem:
            yield error("files-forbidden", f"file:{path}", f"{path} may not be changed here: {problem}")
