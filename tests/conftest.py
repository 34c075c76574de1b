"""Fixtures shared by every test: the MVP model, model folders, PostgreSQL, the service's world.

Helpers live in ``tests/support``; tests import them from there, never from this file.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handler.model import Ecosystem
from tests.support.fake_github import FakeGitHub, ServerThread
from tests.support.pg import consumer_postgres, postgres  # noqa: F401 - the session's PostgreSQL servers
from tests.support.service_env import Env
from tests.support.template import TEMPLATE, build_template_ecosystem


@pytest.fixture
def mvp() -> Ecosystem:
    return build_template_ecosystem()


@pytest.fixture
def model_dir(tmp_path: Path) -> Callable[[str], Path]:
    """A model folder: the template's files with ``eco.py`` replaced by the given source."""

    def make(source: str) -> Path:
        folder = tmp_path / "model"
        if not folder.exists():
            shutil.copytree(TEMPLATE, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "eco.py").write_text(textwrap.dedent(source))
        return folder

    return make


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """A model repository, an empty deployment repository and the local GitHub server."""
    github = FakeGitHub()
    with ServerThread(github.app()) as api_url:
        github.base_url = api_url
        yield Env(tmp_path, github, api_url)
