"""The Kubernetes and Argo Server stand-ins answer with objects shaped as the official schemas
define them (Argo CD's Application CRD, Argo Workflows' JSON schema), strictly: a field the real
API would not have fails here, so the rollout tracker is tested against real shapes."""

from __future__ import annotations

from tests.support.kube_api import application, workflow
from tests.support.manifests import validation_errors


def test_applications_are_shaped_by_the_argo_cd_crd() -> None:
    for app in (
        application("datasurface-root", "d" * 40),
        application("datasurface-yellowlive", "d" * 40, health="Degraded", message="CronWorkflow invalid"),
    ):
        assert validation_errors(app) == []
    broken = application("datasurface-root", "d" * 40)
    broken["status"]["sync"]["revison"] = "typo"
    assert validation_errors(broken) != []


def test_workflows_are_shaped_by_the_argo_workflows_schema() -> None:
    run = workflow(
        "yellowlive-store1-1", "ds-yellowlive", "YellowLive", "Store1", "a" * 40, "Failed", "boom", {"batch": "1"}
    )
    assert validation_errors(run) == []
    run["status"]["outputs"]["parameters"][0]["valeu"] = "typo"
    assert validation_errors(run) != []
