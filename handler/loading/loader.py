"""Load a model folder: ``eco.py`` through the sandbox, ``dsg_platform_mapping.json`` as data.

The result is either an ``Ecosystem`` or findings that say why there is none; a loading
problem is never an exception for the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from handler.findings import Finding, error
from handler.loading.limits import SandboxLimits
from handler.loading.sandbox import SandboxError, run_model
from handler.model.ecosystem import Ecosystem, canonicalize, from_canonical_json
from handler.model.mapping import MAPPING_FILE, DSGPlatformMapping

MAX_MAPPING_BYTES = 16 * 1024 * 1024
_mapping_decoder = msgspec.json.Decoder(list[DSGPlatformMapping])


@dataclass
class LoadResult:
    ecosystem: Ecosystem | None
    findings: list[Finding] = field(default_factory=list)
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.ecosystem is not None


def load_model(
    model_dir: Path | str, limits: SandboxLimits | None = None, require_landlock: bool = False
) -> LoadResult:
    model_dir = Path(model_dir)
    limits = limits or SandboxLimits.from_env()
    if not model_dir.is_dir():
        return LoadResult(None, [error("load-missing", f"file:{model_dir}", f"{model_dir} is not a folder")])
    run = run_model(model_dir, limits, require_landlock)
    if run.error is not None:
        return LoadResult(None, [_load_finding(run.error)], run.stderr)
    if run.model_json is None:
        raise RuntimeError("the sandbox reported neither a model nor an error")
    try:
        eco = from_canonical_json(run.model_json)
    except msgspec.ValidationError as exc:
        return LoadResult(None, [_invalid_model_finding(run.model_json, exc)], run.stderr)
    mappings, findings = read_mapping_file(model_dir)
    eco.dsg_platform_mappings = mappings
    canonicalize(eco)
    return LoadResult(eco, findings, run.stderr)


def read_mapping_file(model_dir: Path) -> tuple[list[DSGPlatformMapping], list[Finding]]:
    """Parse ``dsg_platform_mapping.json``; a missing file means no assignments."""
    path = model_dir / MAPPING_FILE
    where = f"file:{MAPPING_FILE}"
    if not path.exists():
        return [], []
    if path.stat().st_size > MAX_MAPPING_BYTES:
        return [], [error("mapping-invalid", where, f"{MAPPING_FILE} is larger than {MAX_MAPPING_BYTES // 2**20} MiB")]
    try:
        return _mapping_decoder.decode(path.read_bytes()), []
    except msgspec.DecodeError as exc:
        hint = 'expected a list of {"dsgName", "workspace", "assignments": [{"dataPlatform", "status"}]}'
        return [], [error("mapping-invalid", where, f"{MAPPING_FILE} is not valid: {exc} ({hint})")]


_LOAD_RULES = {
    "syntax": "load-syntax",
    "exception": "load-exception",
    "entrypoint": "load-entrypoint",
    "timeout": "load-timeout",
    "cpu": "load-timeout",
    "memory": "load-memory",
    "missing": "load-missing",
}


def _load_finding(err: SandboxError) -> Finding:
    where = "file:" + (f"{err.file}:{err.line}" if err.file and err.line else err.file or "eco.py")
    location = f" at {err.file}:{err.line}" if err.file and err.line else ""
    return error(_LOAD_RULES.get(err.kind, "load-failed"), where, f"{err.message}{location}")


def _invalid_model_finding(model_json: bytes, exc: msgspec.ValidationError) -> Finding:
    """Turn msgspec's ``... - at `$.zones[0].teams[1]...``` into a model path of names."""
    message = str(exc)
    text, _, json_path = message.partition(" - at `")
    return error(
        "load-invalid",
        model_path_of(model_json, json_path.rstrip("`")),
        f"the ecosystem is not valid model data: {text}",
    )


_PATH_PREFIX = {
    "zones": "zone",
    "teams": "team",
    "datastores": "store",
    "datasets": "dataset",
    "columns": "column",
    "workspaces": "workspace",
    "dsgs": "dsg",
    "data_platforms": "platform",
    "governance_zone_declarations": "zone-declaration",
    "team_declarations": "team-declaration",
}


def model_path_of(model_json: bytes, json_path: str) -> str:
    """Map a JSON path like ``$.zones[0].teams[0].datastores[1]`` to ``zone:USA/team:t1/store:S2``."""
    try:
        node: Any = msgspec.json.decode(model_json)
    except msgspec.DecodeError:
        return "ecosystem"
    parts: list[str] = []
    for key, index in re.findall(r"\.(\w+)(?:\[(\d+)\])?", json_path):
        try:
            node = node[key]
            if index:
                node = node[int(index)]
                name = node.get("name") if isinstance(node, dict) else None
                parts.append(f"{_PATH_PREFIX.get(key, key)}:{name if name is not None else index}")
            else:
                parts.append(key)
        except (KeyError, IndexError, TypeError):
            parts.append(key)
            break
    return "/".join(parts) or "ecosystem"
