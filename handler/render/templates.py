"""The Jinja2 templates of rendered artifacts (``argo/`` and ``k8s/`` beside the ``handler`` package).

Templates use ``[[ ]]`` and ``[% %]`` as delimiters so Argo's own ``{{...}}`` expressions pass
through untouched. Operators can point ``--templates DIR`` at their own copies (a folder with
``argo/`` and ``k8s/`` subfolders).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import jinja2
import yaml

DEFAULT_TEMPLATES = Path(os.environ.get("DATASURFACE_TEMPLATES") or Path(__file__).resolve().parent.parent.parent)

try:  # libyaml when available: rendering 1,000 streams stays well under a second
    _Loader: Any = yaml.CSafeLoader
    _BaseDumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _Loader, _BaseDumper = yaml.SafeLoader, yaml.SafeDumper


class Templates:
    def __init__(self, root: Optional[Path] = None) -> None:
        self.root = Path(root) if root is not None else DEFAULT_TEMPLATES
        for sub in ("argo", "k8s"):
            if not (self.root / sub).is_dir():
                hint = "" if root is not None else " (templates ship in the source tree: install with `pip install -e .` or pass --templates)"
                raise FileNotFoundError(f"template folder {self.root / sub} does not exist{hint}")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(self.root)]),
            variable_start_string="[[",
            variable_end_string="]]",
            block_start_string="[%",
            block_end_string="%]",
            comment_start_string="[#",
            comment_end_string="#]",
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        self.env.policies["json.dumps_kwargs"] = {"sort_keys": True}
        self.env.filters["configmap_source"] = lambda name: {"configMap": {"name": name}}

    def render_documents(self, name: str, context: dict[str, Any]) -> list[dict[str, Any]]:
        """Render a template and parse the YAML documents it produced."""
        try:
            text = self.env.get_template(name).render(**context)
        except jinja2.TemplateError as exc:
            raise ValueError(f"template {name}: {exc}") from exc
        try:
            return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
        except yaml.YAMLError as exc:
            raise ValueError(f"template {name} did not produce valid YAML: {exc}") from exc


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Multi-line strings (job spec JSON) as literal blocks: readable in the repo, diff line by line."""


def _represent_str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_documents(documents: list[dict[str, Any]]) -> bytes:
    """Canonical YAML: sorted keys, block style, no aliases; byte-identical for equal input."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120).encode()
