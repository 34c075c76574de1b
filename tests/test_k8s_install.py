"""The cluster install under ``k8s/``: least privilege for the rollout tracker, and settings the
service knows."""

from __future__ import annotations

import yaml

from handler.service.config import ServiceConfig
from tests.support.template import ROOT


def test_the_rollout_tracker_may_only_read_applications_and_workflows() -> None:
    documents = list(yaml.safe_load_all((ROOT / "k8s/handler-rollout/rbac.yaml").read_text()))
    rules = [rule for doc in documents if doc["kind"] in ("Role", "ClusterRole") for rule in doc["rules"]]
    assert {r for rule in rules for r in rule["resources"]} == {"applications", "workflows"}
    assert {v for rule in rules for v in rule["verbs"]} == {"get", "list", "watch"}
    assert {g for rule in rules for g in rule["apiGroups"]} == {"argoproj.io"}
    bindings = [doc for doc in documents if doc["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert {(s["kind"], s["name"]) for b in bindings for s in b["subjects"]} == {
        ("ServiceAccount", "datasurface-handler")
    }


def test_every_setting_the_install_passes_is_one_the_service_knows() -> None:
    text = (ROOT / "k8s/handler/deployment.yaml").read_text() + (
        ROOT / "k8s/handler-rollout/kustomization.yaml"
    ).read_text()
    names = {word.strip("{,:") for word in text.split() if word.strip("{,:").startswith("DATASURFACE_")}
    assert "DATASURFACE_TRACK_ROLLOUTS" in names
    unknown = {n for n in names if n.removeprefix("DATASURFACE_").lower() not in ServiceConfig.model_fields}
    assert unknown == set()
