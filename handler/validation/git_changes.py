"""Changed files between two checkouts of one git repository (GitPython)."""

from __future__ import annotations

from pathlib import Path

import git


def changed_files_from_git(base_dir: Path, head_dir: Path) -> list[str] | None:
    """Paths changed from base's commit to head's (and uncommitted in head), relative to the
    repository root; None when the folders are not checkouts of one repository."""
    try:
        base_repo = git.Repo(base_dir, search_parent_directories=True)
        head_repo = git.Repo(head_dir, search_parent_directories=True)
        base_sha = base_repo.head.commit.hexsha
        head_sha = head_repo.head.commit.hexsha
        head_repo.commit(base_sha)  # the base commit must be known to the head checkout
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, git.BadName):
        return None
    names = head_repo.git.diff("--name-only", "--no-renames", base_sha, head_sha).splitlines()
    # Uncommitted edits in the head checkout count too.
    names += head_repo.git.diff("--name-only", "--no-renames", "HEAD").splitlines()
    names += head_repo.untracked_files
    return sorted(set(names))
