"""The model repository template, as tests use it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from handler.loading.loader import read_mapping_file
from handler.model import Ecosystem
from handler.model.ecosystem import canonicalize

ROOT = Path(__file__).resolve().parent.parent.parent
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
