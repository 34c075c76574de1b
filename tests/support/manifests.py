"""Validation of rendered manifests against the official schemas (tests/data/schemas) and
kubernetes-validate, in strict mode: an unknown field anywhere is an error, as
``kubectl apply --validate=strict`` would report it."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "schemas"
ARGO_KINDS = {"Workflow", "WorkflowTemplate", "CronWorkflow"}
#: Custom resources validated against their official CRD's openAPIV3Schema.
CRD_KINDS = {
    "Application": "argo-cd/application-crd.yaml",
    "AppProject": "argo-cd/appproject-crd.yaml",
    "ServiceMonitor": "prometheus-operator/servicemonitors-crd.yaml",
    "PodMonitor": "prometheus-operator/podmonitors-crd.yaml",
    "PrometheusRule": "prometheus-operator/prometheusrules-crd.yaml",
}


def _strict(schema: Any) -> Any:
    """Forbid properties a schema does not declare (unless it explicitly allows any)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _argo_definitions() -> dict[str, Any]:
    return _strict(json.loads((SCHEMAS / "argo-workflows" / "schema.json").read_text())["definitions"])


@functools.cache
def _argo_validator(kind: str) -> jsonschema.protocols.Validator:
    schema = {"$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}", "definitions": _argo_definitions()}
    return jsonschema.Draft7Validator(schema)


@functools.cache
def _crd_validator(filename: str) -> jsonschema.protocols.Validator:
    crd = yaml.safe_load((SCHEMAS / filename).read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    strict = _strict(copy.deepcopy(schema))
    strict["properties"]["metadata"] = {"type": "object"}  # ObjectMeta is checked by kubernetes-validate below
    return jsonschema.Draft7Validator(strict)


def validation_errors(doc: dict[str, Any]) -> list[str]:
    kind = doc.get("kind", "")
    if kind in ARGO_KINDS:
        errors = [
            f"{kind} {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _argo_validator(kind).iter_errors(doc)
        ]
        return errors + _object_meta_errors(doc)
    if kind in CRD_KINDS:
        errors = [
            f"{kind} {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _crd_validator(CRD_KINDS[kind]).iter_errors(doc)
        ]
        return errors + _object_meta_errors(doc)
    try:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{kind} {'/'.join(map(str, exc.path))}: {exc.message}"]
    return []


def _object_meta_errors(doc: dict[str, Any]) -> list[str]:
    """Check a custom resource's metadata as Kubernetes would, via a ConfigMap carrying it."""
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc.get("metadata", {})}
    try:
        kubernetes_validate.validate(probe, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{doc.get('kind')} metadata: {exc.message}"]
    return []


def documents(tree: dict[str, bytes]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, doc)
        for path, data in sorted(tree.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(data)
        if doc
    ]
