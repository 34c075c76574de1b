"""Copying a hostile model folder (``handler/loading/model_tree.py``): nothing is opened through a
link, only regular files are read, sizes are capped, and the refusal says what to do."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from handler.loading import SandboxLimits, load_model
from handler.loading.model_tree import TreeLimits, copy_model_tree, read_regular_file


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    (folder / "sub").mkdir(parents=True)
    (folder / "eco.py").write_text("def createEcosystem():\n    pass\n")
    (folder / "sub" / "helpers.py").write_text("X = 1\n")
    return folder


def refusal(repo: Path, tmp_path: Path, limits: TreeLimits | None = None) -> tuple[str, str, str]:
    findings = copy_model_tree(repo, tmp_path / "copy", limits)
    assert len(findings) == 1, findings
    return findings[0].rule, findings[0].path, findings[0].message


def test_a_plain_folder_is_copied_with_inner_links_kept(repo: Path, tmp_path: Path) -> None:
    (repo / "sub" / "alias.py").symlink_to("helpers.py")
    (repo / "up.py").symlink_to("sub/../eco.py")
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text("[core]")
    assert copy_model_tree(repo, tmp_path / "copy") == []
    copy = tmp_path / "copy"
    assert (copy / "sub" / "helpers.py").read_text() == "X = 1\n"
    assert (copy / "sub" / "alias.py").readlink() == Path("helpers.py")
    assert not (copy / ".git").exists()


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/passwd", "../../outside.json", "sub/../../x"])
def test_links_that_leave_the_folder_are_refused(repo: Path, tmp_path: Path, target: str) -> None:
    (repo / "dsg_platform_mapping.json").symlink_to(target)
    rule, path, message = refusal(repo, tmp_path)
    assert (rule, path) == ("load-symlink-outside", "file:dsg_platform_mapping.json")
    assert "replace the link with the file itself" in message


def test_a_link_that_leaves_through_another_link_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "here").symlink_to(".")
    (repo / "sub" / "deep").symlink_to("../sub")
    (repo / "escape").symlink_to("here/../secret")  # lexically inside; really repo/../secret
    rule, path, _ = refusal(repo, tmp_path)
    assert (rule, path) == ("load-symlink-outside", "file:escape")


def test_a_fifo_is_refused_without_hanging(repo: Path, tmp_path: Path) -> None:
    os.mkfifo(repo / "dsg_platform_mapping.json")
    done = threading.Event()
    outcome: list[tuple[str, str, str]] = []
    thread = threading.Thread(target=lambda: (outcome.append(refusal(repo, tmp_path)), done.set()), daemon=True)
    thread.start()
    assert done.wait(10), "copying a FIFO hung"
    rule, path, message = outcome[0]
    assert (rule, path) == ("load-file-type", "file:dsg_platform_mapping.json") and "named pipe" in message


def test_sizes_and_counts_are_capped(repo: Path, tmp_path: Path) -> None:
    (repo / "big.bin").write_bytes(b"x" * 2048)
    assert refusal(repo, tmp_path, TreeLimits(file_bytes=1024))[0] == "load-tree-limit"
    assert refusal(repo, tmp_path / "2", TreeLimits(total_bytes=1500))[0] == "load-tree-limit"
    assert refusal(repo, tmp_path / "3", TreeLimits(files=2))[0] == "load-tree-limit"


def test_reading_a_single_file_follows_no_link_and_reads_no_device(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("[]")
    (tmp_path / "link.json").symlink_to("real.json")
    (tmp_path / "zero").symlink_to("/dev/zero")
    assert read_regular_file(tmp_path, "real.json", 100) == b"[]"
    assert read_regular_file(tmp_path, "missing.json", 100) is None
    for name in ("link.json", "zero"):
        with pytest.raises(ValueError, match="symbolic link"):
            read_regular_file(tmp_path, name, 100)
    (tmp_path / "big").write_bytes(b"x" * 200)
    with pytest.raises(ValueError, match="larger than"):
        read_regular_file(tmp_path, "big", 100)


def test_loading_a_model_with_a_link_to_dev_zero_is_a_quick_finding(repo: Path) -> None:
    (repo / "dsg_platform_mapping.json").symlink_to("/dev/zero")
    started = time.monotonic()
    result = load_model(repo, SandboxLimits(wall_seconds=20))
    assert result.ecosystem is None and result.findings[0].rule == "load-symlink-outside"
    assert time.monotonic() - started < 5
