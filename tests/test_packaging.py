"""What ships beside the code: the GitHub Actions, the model repo's workflows, the handler's
Kubernetes manifests; all validated against the official schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.manifests import SCHEMAS, validation_errors

ROOT = Path(__file__).resolve().parent.parent


def load_workflow(path: Path) -> dict:
    """GitHub reads YAML 1.2: `on` is a key, not the boolean PyYAML's YAML 1.1 makes of it."""
    workflow = yaml.safe_load(path.read_text())
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def github_schema(name: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((SCHEMAS / "github" / name).read_text()))


@pytest.mark.parametrize(
    "path", sorted((ROOT / ".github" / "actions").glob("*/action.yml")), ids=lambda p: p.parent.name
)
def test_composite_actions_match_the_action_schema(path: Path) -> None:
    action = yaml.safe_load(path.read_text())
    assert [e.message for e in github_schema("github-action.json").iter_errors(action)] == []
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        # untrusted event values reach scripts through env only, never expanded inside `run`
        assert "github.event" not in step.get("run", ""), step.get("name")


WORKFLOWS = sorted((ROOT / "handler" / "model_repo_template" / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / ".github" / "workflows").glob("*.yml")
)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: f"{p.parent.parent.parent.name}/{p.name}")
def test_workflows_match_the_workflow_schema_with_least_privilege(path: Path) -> None:
    workflow = load_workflow(path)
    assert [e.message for e in github_schema("github-workflow.json").iter_errors(workflow)] == []
    assert workflow["permissions"] == {"contents": "read"}  # jobs ask for more only where needed
    assert "concurrency" in workflow


def test_pull_request_validation_runs_once_per_pull_request() -> None:
    workflow = load_workflow(ROOT / "handler/model_repo_template/.github/workflows/validate.yml")
    assert "github.event.pull_request.number" in workflow["concurrency"]["group"]
    assert workflow["jobs"]["validate"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }


MANIFESTS = sorted(p for p in (ROOT / "k8s").rglob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_kubernetes_manifests_validate_strictly(path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert documents
    problems = [error for doc in documents for error in validation_errors(doc)]
    assert problems == []


def test_no_secret_values_in_manifests() -> None:
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert doc["kind"] != "Secret", f"{path} carries a Secret; reference secrets by name instead"


def test_kustomizations_list_every_manifest_of_their_folder() -> None:
    for kustomization in (ROOT / "k8s").rglob("kustomization.yaml"):
        resources = yaml.safe_load(kustomization.read_text())["resources"]
        listed = {r for r in resources if r.endswith(".yaml")}
        present = {p.name for p in kustomization.parent.glob("*.yaml") if p.name != "kustomization.yaml"}
        assert listed == present, kustomization
        bases = [r for r in resources if not r.endswith(".yaml")]  # an overlay's base folders
        assert all((kustomization.parent / base / "kustomization.yaml").is_file() for base in bases), kustomization
