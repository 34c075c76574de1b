"""The Jinja2 templates of rendered artifacts: package data in ``handler/render/templates/``.

Templates use ``[[ ]]`` and ``[% %]`` as delimiters so Argo's own ``{{...}}`` expressions pass
through untouched. Operators can override any of them with ``--templates DIR``: a folder with
``argo/`` and/or ``k8s/`` subfolders; a template found there wins, the others come from the
package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import yaml

#: The package holding the shipped templates (under its ``templates/`` folder).
TEMPLATE_PACKAGE = "handler.render"

try:  # libyaml when available: rendering 1,000 streams stays well under a second
    _Loader: Any = yaml.CSafeLoader
    _BaseDumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _Loader, _BaseDumper = yaml.SafeLoader, yaml.SafeDumper


class Templates:
    def __init__(self, overrides: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader(TEMPLATE_PACKAGE, "templates")]
        if overrides is not None:
            if not any((Path(overrides) / sub).is_dir() for sub in ("argo", "k8s")):
                raise FileNotFoundError(f"template folder {overrides} has neither an argo/ nor a k8s/ subfolder")
            loaders.insert(0, jinja2.FileSystemLoader(str(overrides)))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            variable_start_string="[[",
            variable_end_string="]]",
            block_start_string="[%",
            block_end_string="%]",
            comment_start_string="[#",
            comment_end_string="#]",
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701 - renders YAML for Kubernetes, not HTML
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


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Multi-line strings (job spec JSON) as literal blocks: readable in the repo, diff line by line."""


def _represent_str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_documents(documents: list[dict[str, Any]]) -> bytes:
    """Canonical YAML: sorted keys, block style, no aliases; byte-identical for equal input."""
    return yaml.dump_all(
        documents, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120
    ).encode()
