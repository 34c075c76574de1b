"""Git repositories that own parts of the model."""

from __future__ import annotations

from handler.model.base import ModelObject


class GitHubRepository(ModelObject, tag="GitHub", tag_field="kind"):
    """A branch of a GitHub repository. Identity is (repositoryName, branchName), case-sensitive."""

    repositoryName: str
    branchName: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.repositoryName, self.branchName)

    def __str__(self) -> str:
        return f"{self.repositoryName}@{self.branchName}"
