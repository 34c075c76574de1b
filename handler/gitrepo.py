"""Git work (GitPython): model checkouts from a local mirror, the deployment repository clone."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git


@contextmanager
def path_lock(path: Path) -> Iterator[None]:
    """Exclusive use of the repository at ``path`` by one thread of one process at a time.

    An ``flock`` on a lock file beside it: separate opens conflict even within one process, and
    the kernel releases it when a killed process's descriptors close.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a+b") as handle:  # noqa: PTH123 - flock needs a descriptor
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _slug(name: str) -> str:
    """A folder name for a repository name or URL: readable, and unique by a hash of the whole."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-60:] + "-" + hashlib.sha256(name.encode()).hexdigest()[:10]


def _open_or_init(path: Path, bare: bool) -> git.Repo:
    """Open the repository at ``path``; one left half-made by a killed process is made again.

    A new repository is initialized beside its place and renamed into it, so it appears whole.
    Callers hold ``path_lock(path)``.
    """
    if path.exists():
        try:
            repo = git.Repo(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            shutil.rmtree(path)
        else:
            # Lock files of a git process that died with its caller: whoever holds path_lock is
            # the only writer, so a git lock file seen now is stale.
            for stale in Path(repo.git_dir).rglob("*.lock"):
                stale.unlink(missing_ok=True)
            return repo
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    shutil.rmtree(staging, ignore_errors=True)
    git.Repo.init(staging, bare=bare)
    staging.replace(path)
    return git.Repo(path)


def _set_origin(repo: git.Repo, url: str) -> None:
    if any(remote.name == "origin" for remote in repo.remotes):
        repo.remote("origin").set_url(url)
    else:
        repo.create_remote("origin", url)


class ModelMirror:
    """A bare mirror of a model repository, fetched before each use."""

    def __init__(self, work_dir: Path, repo: str) -> None:
        self.path = work_dir / "mirrors" / (_slug(repo) + ".git")

    def fetch(self, url: str) -> git.Repo:
        with path_lock(self.path):
            repo = _open_or_init(self.path, bare=True)
            _set_origin(repo, url)
            repo.git.fetch("origin", "--prune", "--force", "+refs/heads/*:refs/heads/*", "+refs/pull/*:refs/pull/*")
            return repo

    @staticmethod
    def export(repo: git.Repo, rev: str, dest: Path) -> Path:
        """The tree of ``rev`` as plain files in ``dest`` (no .git)."""
        dest.mkdir(parents=True, exist_ok=True)
        data = io.BytesIO()
        repo.archive(data, rev, format="tar")
        data.seek(0)
        with tarfile.open(fileobj=data) as archive:
            archive.extractall(dest, filter="data")
        return dest

    @staticmethod
    def has_commit(repo: git.Repo, sha: str) -> bool:
        try:
            repo.git.cat_file("-e", f"{sha}^{{commit}}")
        except git.GitCommandError:
            return False
        return True

    @staticmethod
    def branch_head(repo: git.Repo, branch: str) -> str | None:
        try:
            return str(repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"))
        except git.GitCommandError:
            return None

    @staticmethod
    def merge_result(repo: git.Repo, base: str, head: str) -> str | None:
        """The tree of ``head`` merged into ``base``, computed here (``git merge-tree``), as a merge
        would make it; None when they conflict. Independent of GitHub's ``refs/pull/N/merge``, which
        it recomputes late when the base moves."""
        try:
            return str(repo.git.merge_tree("--write-tree", base, head)).splitlines()[0]
        except git.GitCommandError:
            return None

    @staticmethod
    def changed_files(repo: git.Repo, base: str, result: str) -> list[str]:
        """Every path that differs between two trees or commits (renames as a removal and an addition)."""
        return sorted(set(repo.git.diff("--name-only", "--no-renames", base, result).splitlines()))

    @staticmethod
    def is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
        try:
            repo.git.merge_base("--is-ancestor", older, newer)
        except git.GitCommandError:
            return False
        return True


class DeployRepo:
    """A working clone of one branch of a deployment repository, one folder per (URL, branch).

    Use it inside ``with deploy.locked():`` so that two deployments never share the clone.
    """

    def __init__(self, work_dir: Path, url: str, branch: str) -> None:
        self.path = work_dir / "deploy" / _slug(f"{without_credentials(url)}#{branch}")
        self.url = url
        self.branch = branch

    @contextmanager
    def locked(self) -> Iterator[DeployRepo]:
        with path_lock(self.path):
            yield self

    def sync(self) -> git.Repo:
        """Fetch and reset to the remote branch (or an empty branch if it does not exist yet)."""
        repo = _open_or_init(self.path, bare=False)
        _set_origin(repo, self.url)
        repo.git.fetch("origin", "--prune")
        remote_ref = f"refs/remotes/origin/{self.branch}"
        if any(ref.path == remote_ref for ref in repo.refs):
            repo.git.checkout("-B", self.branch, remote_ref)
            repo.git.reset("--hard", remote_ref)
        else:  # the first deployment: start the branch from nothing
            shutil.rmtree(self.path)
            repo = _open_or_init(self.path, bare=False)
            _set_origin(repo, self.url)
            repo.git.symbolic_ref("HEAD", f"refs/heads/{self.branch}")
        repo.git.clean("-fdx")
        return repo

    @staticmethod
    def deployed_commits(repo: git.Repo) -> list[str]:
        """Model commits named by ``Model-Commit:`` trailers, newest first."""
        if not repo.head.is_valid():
            return []
        log = repo.git.log("--format=%(trailers:key=Model-Commit,valueonly)", "HEAD")
        return [line.strip() for line in log.splitlines() if line.strip()]

    def commit_and_push(self, repo: git.Repo, message: str, author: git.Actor) -> str | None:
        """Commit everything and push; None when the push was rejected (someone else pushed)."""
        repo.git.add("-A")
        repo.index.commit(message, author=author, committer=author)
        try:
            repo.git.push("origin", f"HEAD:refs/heads/{self.branch}")
        except git.GitCommandError as exc:
            if "rejected" in str(exc) or "non-fast-forward" in str(exc) or "fetch first" in str(exc):
                return None
            raise
        return repo.head.commit.hexsha


def without_credentials(url: str) -> str:
    """The URL without a ``user:token@`` part, so a rotated token keeps the same clone folder."""
    return re.sub(r"^([a-z+]+://)[^/@]*@", r"\1", url)
