"""Copying a model folder for the sandbox without trusting it.

A pull request controls every byte of the model folder, its file types and its links. The copy
opens nothing by following a symlink and reads regular files only, each with a size cap, the
whole tree with a total cap and a file-count cap: a link to ``/dev/zero``, a FIFO that never
answers or a link to another repository's files cannot reach the parent. Links that stay
inside the folder are kept as links; links that leave it, and every other kind of file, are
refused with a finding.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from handler.findings import Finding, error

SKIPPED_FOLDERS = frozenset({".git", "__pycache__"})


@dataclass(frozen=True)
class TreeLimits:
    file_bytes: int = 16 * 1024 * 1024  # largest single file
    total_bytes: int = 256 * 1024 * 1024  # all files together
    files: int = 20_000  # files and folders


class _RefusedError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def copy_model_tree(source: Path, dest: Path, limits: TreeLimits | None = None) -> list[Finding]:
    """Copy ``source`` into the new folder ``dest``; returns the findings that refused it (empty: copied)."""
    limits = limits or TreeLimits()
    state = _Copy(limits)
    try:
        root_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        return [error("load-missing", f"file:{source}", f"{source} cannot be opened as a folder: {exc.strerror}")]
    try:
        dest.mkdir(parents=True)
        state.copy_dir(root_fd, PurePosixPath(), dest)
        for link in state.links:  # links through links: where each really leads, in the copy
            _check_resolved(dest, link)
    except _RefusedError as refused:
        return [refused.finding]
    finally:
        os.close(root_fd)
    return []


def _check_resolved(dest: Path, link: PurePosixPath) -> None:
    root = os.path.realpath(dest)
    target = os.path.realpath(dest / link)
    if os.path.commonpath([root, target]) != root:
        raise _RefusedError(
            error(
                "load-symlink-outside",
                f"file:{link}",
                f"{link} leads outside the model folder through other links: a model may only link to its own "
                "files; replace the link with the file itself",
            )
        )


def read_regular_file(folder: Path, name: str, max_bytes: int) -> bytes | None:
    """The bytes of ``folder/name`` if it is a regular file (no symlink followed), else None.

    Raises ``ValueError`` for a file larger than ``max_bytes`` or one that is not a regular file.
    """
    try:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{name} is a symbolic link; it must be a regular file") from None
        raise ValueError(f"{name} cannot be read: {exc.strerror}") from None
    try:
        return _read_capped(fd, name, max_bytes)
    finally:
        os.close(fd)


def _read_capped(fd: int, name: str, max_bytes: int) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{name} is not a regular file")
    if info.st_size > max_bytes:
        raise ValueError(f"{name} is larger than {max_bytes // 2**20} MiB")
    chunks: list[bytes] = []
    size = 0
    while chunk := os.read(fd, 1024 * 1024):
        size += len(chunk)
        if size > max_bytes:  # grew while being read
            raise ValueError(f"{name} is larger than {max_bytes // 2**20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


class _Copy:
    def __init__(self, limits: TreeLimits) -> None:
        self.limits = limits
        self.total = 0
        self.count = 0
        self.links: list[PurePosixPath] = []

    def refuse(self, rule: str, relative: PurePosixPath, message: str) -> _RefusedError:
        return _RefusedError(error(rule, f"file:{relative}", message))

    def copy_dir(self, dir_fd: int, relative: PurePosixPath, dest: Path) -> None:
        for name in sorted(os.listdir(dir_fd)):
            child = relative / name
            self.count += 1
            if self.count > self.limits.files:
                raise self.refuse("load-tree-limit", child, f"the model folder has more than {self.limits.files} files")
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                if name in SKIPPED_FOLDERS:
                    continue
                sub_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    (dest / name).mkdir()
                    self.copy_dir(sub_fd, child, dest / name)
                finally:
                    os.close(sub_fd)
            elif stat.S_ISLNK(info.st_mode):
                self.copy_link(dir_fd, name, child, dest / name)
            elif stat.S_ISREG(info.st_mode):
                self.copy_file(dir_fd, name, child, dest / name)
            else:
                raise self.refuse(
                    "load-file-type",
                    child,
                    f"{child} is a {_kind(info.st_mode)}; a model folder may hold only files, folders and links "
                    "within it: remove it from the repository",
                )

    def copy_link(self, dir_fd: int, name: str, relative: PurePosixPath, dest: Path) -> None:
        target = os.readlink(name, dir_fd=dir_fd)
        resolved = _normalize(relative.parent / target)
        if PurePosixPath(target).is_absolute() or resolved is None:
            raise self.refuse(
                "load-symlink-outside",
                relative,
                f"{relative} is a link to {target!r}, outside the model folder: a model may only link to its "
                "own files; replace the link with the file itself",
            )
        dest.symlink_to(target)
        self.links.append(relative)

    def copy_file(self, dir_fd: int, name: str, relative: PurePosixPath, dest: Path) -> None:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            data = _read_capped(fd, str(relative), self.limits.file_bytes)
        except ValueError as exc:
            raise self.refuse("load-tree-limit", relative, f"{exc}: the model folder may not hold it") from None
        finally:
            os.close(fd)
        self.total += len(data)
        if self.total > self.limits.total_bytes:
            raise self.refuse(
                "load-tree-limit", relative, f"the model folder holds more than {self.limits.total_bytes // 2**20} MiB"
            )
        dest.write_bytes(data)


def _normalize(path: PurePosixPath) -> PurePosixPath | None:
    """``path`` with ``..`` resolved lexically; None when it climbs out of the folder."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath()


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return "special file"
