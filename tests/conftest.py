from __future__ import annotations

import importlib.util
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .service_helpers import Env

from handler.loading.loader import read_mapping_file
from handler.model import Ecosystem
from handler.model.ecosystem import canonicalize

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "handler" / "model_repo_template"


def build_template_ecosystem() -> Ecosystem:
    """The MVP model built in-process (test code is trusted; products load models in the sandbox)."""
    spec = importlib.util.spec_from_file_location("template_eco", TEMPLATE / "eco.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    eco: Ecosystem = module.createEcosystem()
    eco.dsg_platform_mappings, findings = read_mapping_file(TEMPLATE)
    assert findings == []
    return canonicalize(eco)


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


from .pg import postgres  # noqa: E402,F401  (the session's PostgreSQL fixture)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """A model repository, an empty deployment repository and the local GitHub server."""
    from .fake_github import FakeGitHub, ServerThread
    from .service_helpers import Env

    github = FakeGitHub()
    with ServerThread(github.app()) as api_url:
        github.base_url = api_url
        yield Env(tmp_path, github, api_url)
