"""The change source of a pull request: ``owner/repo@branch``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handler.model.repo import GitHubRepository

_SOURCE = re.compile(r"(?P<repo>[^@\s]+/[^@\s]+)@(?P<branch>[^\s]+)\Z")


@dataclass(frozen=True)
class ChangeSource:
    """Identity is (repository, branch), compared case-sensitively, as GitHubRepository's."""

    repository: str
    branch: str

    @classmethod
    def parse(cls, text: str) -> ChangeSource:
        match = _SOURCE.match(text.strip())
        if not match:
            raise ValueError(f"change source {text!r} is not of the form OWNER/REPO@BRANCH")
        return cls(match["repo"], match["branch"])

    def owns(self, repo: GitHubRepository | None) -> bool:
        return repo is not None and (repo.repositoryName, repo.branchName) == (self.repository, self.branch)

    def __str__(self) -> str:
        return f"{self.repository}@{self.branch}"
