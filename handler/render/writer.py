"""Write a rendered tree into a deployment folder, removing what the model no longer has."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from handler.render.tree import MANAGED_ROOTS


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def existing_files(out_dir: Path) -> dict[str, bytes]:
    """The files under the renderer's managed folders of ``out_dir``."""
    found: dict[str, bytes] = {}
    for root in MANAGED_ROOTS:
        base = out_dir / root
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    found[path.relative_to(out_dir).as_posix()] = path.read_bytes()
    return found


def write_tree(files: dict[str, bytes], out_dir: Path) -> WriteResult:
    """Make the managed folders of ``out_dir`` hold exactly ``files``; other files are kept."""
    result = WriteResult()
    before = existing_files(out_dir)
    for rel, data in sorted(files.items()):
        if before.get(rel) == data:
            result.unchanged.append(rel)
            continue
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # never a half-written manifest
        result.written.append(rel)
    for rel in sorted(before.keys() - files.keys()):
        (out_dir / rel).unlink()
        result.deleted.append(rel)
    for root in MANAGED_ROOTS:
        base = out_dir / root
        if base.is_dir():
            for folder in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                if not any(folder.iterdir()):
                    folder.rmdir()
    return result
