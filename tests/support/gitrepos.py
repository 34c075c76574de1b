"""Real git repositories for tests: a 'GitHub' model repository and the clone developers push from."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.template import TEMPLATE

GIT_ENV = {
    "GIT_AUTHOR_NAME": "dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout.strip()


class ModelRepo:
    """A bare 'GitHub' model repository and a working clone developers push from."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "model.git"
        self.work = root / "model-work"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        shutil.copytree(TEMPLATE, self.work, ignore=shutil.ignore_patterns("__pycache__"))
        git(self.work, "init", "-q", "-b", "main")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "initial model")
        git(self.work, "remote", "add", "origin", str(self.bare))
        git(self.work, "push", "-q", "origin", "main")

    def sha(self, rev: str = "HEAD") -> str:
        return git(self.work, "rev-parse", rev)

    def branch(self, name: str, start: str = "main") -> None:
        git(self.work, "checkout", "-q", "-B", name, start)

    def change(self, edit: Callable[[str], str], message: str, path: str = "eco.py") -> str:
        file = self.work / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(edit(file.read_text() if file.exists() else ""))
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        return self.sha()

    def push(self, branch: str) -> None:
        git(self.work, "push", "-q", "-f", "origin", f"{branch}:{branch}")

    def merge_to_main(self, branch: str) -> str:
        git(self.work, "checkout", "-q", "main")
        git(self.work, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
        git(self.work, "push", "-q", "origin", "main")
        return self.sha("main")


def add_column(name: str) -> Callable[[str], str]:
    return lambda text: text.replace(
        'DDLColumn("phone", VarChar(100)),',
        f'DDLColumn("phone", VarChar(100)),\n                            DDLColumn("{name}", VarChar(40)),',
    )
