"""Load a model folder: ``eco.py`` through the sandbox, ``dsg_platform_mapping.json`` as data.

The result is either an ``Ecosystem`` or findings that say why there is none; a loading
problem is never an exception for the caller.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from handler.diff import diff_models
from handler.findings import Finding, error, warning
from handler.loading.limits import SandboxLimits
from handler.loading.model_tree import read_regular_file
from handler.loading.sandbox import SandboxError, SandboxRun, run_model
from handler.model.ecosystem import Ecosystem, canonicalize, from_canonical_json
from handler.model.mapping import MAPPING_FILE, DSGPlatformMapping

MAX_MAPPING_BYTES = 16 * 1024 * 1024
_mapping_decoder = msgspec.json.Decoder(list[DSGPlatformMapping])
_MAPPING_HINT = 'expected a list of {"dsgName", "workspace", "assignments": [{"dataPlatform", "status"}]}'


@dataclass
class LoadResult:
    ecosystem: Ecosystem | None
    findings: list[Finding] = field(default_factory=list)
    stderr: str = ""
    sandbox: dict[str, str] = field(default_factory=dict)  # each layer the sandbox applied, or why not
    unsandboxed: str | None = None  # set when the model ran without part of the sandbox: what was missing

    @property
    def ok(self) -> bool:
        return self.ecosystem is not None


def load_model(
    model_dir: Path | str, limits: SandboxLimits | None = None, *, check_determinism: bool = False
) -> LoadResult:
    """Run ``model_dir/eco.py`` in the sandbox and read its mapping file there.

    With ``check_determinism`` the model runs twice at once, under different conditions (clock,
    process id, hash and random seeds, folder, listing order); a model whose two results differ
    gets the error ``load-nondeterministic``: what is validated must be what is deployed.
    """
    model_dir = Path(model_dir)
    limits = limits or SandboxLimits.from_env()
    if not model_dir.is_dir():
        return LoadResult(None, [error("load-missing", f"file:{model_dir}", f"{model_dir} is not a folder")])
    if not check_determinism:
        return _result(run_model(model_dir, limits, limits.allow_unsandboxed))
    with ThreadPoolExecutor(max_workers=2) as pool:  # two sandboxes at once: the work is in the children
        runs = list(pool.map(lambda variant: run_model(model_dir, limits, limits.allow_unsandboxed, variant), (0, 1)))
    first, second = (_result(run) for run in runs)
    if first.ecosystem is None:
        return first
    if second.ecosystem is None:
        reasons = "; ".join(f.message for f in second.findings if f.is_error)
        first.findings.append(_nondeterministic(f"a second run of createEcosystem() failed ({reasons})"))
        first.ecosystem = None
    elif first.ecosystem.to_canonical_json() != second.ecosystem.to_canonical_json():
        changes = diff_models(first.ecosystem, second.ecosystem)
        where = changes[0].path if changes else "ecosystem"
        message = f"two runs of createEcosystem() returned different models, first at {where}"
        first.findings.append(_nondeterministic(message, where))
        first.ecosystem = None
    return first


def _nondeterministic(message: str, where: str = "file:eco.py") -> Finding:
    return error(
        "load-nondeterministic",
        where,
        f"{message}: the model must not depend on the clock, process id, random numbers, hash order, its folder "
        "or the order of directory listings",
    )


def _result(run: SandboxRun) -> LoadResult:
    """The LoadResult of one sandbox run."""
    unsandboxed = "; ".join(run.missing) or None
    if run.findings:
        return LoadResult(None, list(run.findings), run.stderr, run.layers)
    if run.error is not None:
        return LoadResult(None, [_load_finding(run.error)], run.stderr, run.layers, unsandboxed)
    if run.model_json is None:
        raise RuntimeError("the sandbox reported neither a model nor an error")
    try:
        eco = from_canonical_json(run.model_json)
    except msgspec.ValidationError as exc:
        return LoadResult(None, [_invalid_model_finding(run.model_json, exc)], run.stderr, run.layers, unsandboxed)
    findings: list[Finding] = []
    if run.mapping_error is not None:
        findings.append(error("mapping-invalid", f"file:{MAPPING_FILE}", f"{run.mapping_error} ({_MAPPING_HINT})"))
    elif run.mapping is not None:
        eco.dsg_platform_mappings, findings = _decode_mapping(run.mapping.encode())
    if unsandboxed:
        findings.append(
            warning("load-unsandboxed", "file:eco.py", f"the model ran WITHOUT part of the sandbox ({unsandboxed})")
        )
    if run.output_discarded:
        findings.append(
            warning(
                "load-output-truncated",
                "file:eco.py",
                f"the model printed more than 1 MiB; {run.output_discarded:,} bytes of its output were discarded",
            )
        )
    canonicalize(eco)
    return LoadResult(eco, findings, run.stderr, run.layers, unsandboxed)


def read_mapping_file(model_dir: Path) -> tuple[list[DSGPlatformMapping], list[Finding]]:
    """Parse ``dsg_platform_mapping.json`` of trusted code's folder (models read theirs in the sandbox)."""
    try:
        data = read_regular_file(model_dir, MAPPING_FILE, MAX_MAPPING_BYTES)
    except ValueError as exc:
        return [], [error("mapping-invalid", f"file:{MAPPING_FILE}", str(exc))]
    return ([], []) if data is None else _decode_mapping(data)


def _decode_mapping(data: bytes) -> tuple[list[DSGPlatformMapping], list[Finding]]:
    try:
        return _mapping_decoder.decode(data), []
    except msgspec.DecodeError as exc:
        return [], [
            error("mapping-invalid", f"file:{MAPPING_FILE}", f"{MAPPING_FILE} is not valid: {exc} ({_MAPPING_HINT})")
        ]


_LOAD_RULES = {
    "syntax": "load-syntax",
    "exception": "load-exception",
    "entrypoint": "load-entrypoint",
    "timeout": "load-timeout",
    "cpu": "load-timeout",
    "memory": "load-memory",
    "missing": "load-missing",
    "sandbox": "load-sandbox-unavailable",
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
