"""Rollout tracking (``handler/rollout/``) against a Kubernetes API stand-in, through the real
``kubernetes`` client and a kubeconfig: the scenarios a team sees after a merge."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from handler.render import RenderOptions, render_tree, write_tree
from handler.reports.rollout_report import to_markdown
from handler.rollout.backend import KubernetesBackend
from handler.rollout.tracker import check_rollout, track_rollout
from tests.support.fake_github import ServerThread
from tests.support.kube_api import KubeAPI, application, workflow
from tests.support.template import build_template_ecosystem

MODEL, DEPLOY = "a" * 40, "d" * 40
APPS = ("datasurface-root", "datasurface-yellowforensic", "datasurface-yellowlive")
STREAMS = (("YellowLive", "ds-yellowlive"), ("YellowForensic", "ds-yellowforensic"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeAPI, KubernetesBackend, Path]]:
    api = KubeAPI()
    tree = tmp_path / "deployment"
    write_tree(render_tree(build_template_ecosystem(), RenderOptions(model_commit=MODEL)), tree)
    with ServerThread(api.app()) as url:
        yield api, KubernetesBackend(kubeconfig=str(api.kubeconfig(tmp_path, url))), tree


def synced(api: KubeAPI, **overrides: str) -> None:
    for name in APPS:
        api.put("applications", application(name, DEPLOY, **(overrides if name == "datasurface-yellowlive" else {})))


def first_runs(api: KubeAPI, live_phase: str = "Succeeded", message: str = "") -> None:
    for platform, namespace in STREAMS:
        phase = live_phase if platform == "YellowLive" else "Succeeded"
        api.put(
            "workflows",
            workflow(
                f"{platform.lower()}-store1-1",
                namespace,
                platform,
                "Store1",
                MODEL,
                phase,
                message if phase != "Succeeded" else "",
                {"batch": "7", "inserted": "5", "updated": "2", "deleted": "1"},
            ),
        )


def test_synced_healthy_and_every_first_run_succeeded(cluster: tuple[KubeAPI, KubernetesBackend, Path]) -> None:
    api, backend, tree = cluster
    synced(api)
    first_runs(api)
    report = check_rollout(backend, tree, MODEL, DEPLOY)
    assert report.verdict == "success"
    assert {a.name for a in report.apps} == set(APPS)
    assert [(s.expected.platform, s.run.phase if s.run else None) for s in report.streams] == [
        ("YellowForensic", "Succeeded"),
        ("YellowLive", "Succeeded"),
    ]
    comment = to_markdown(report, argo_ui="https://argo.example.com", argocd_ui="https://cd.example.com")
    assert (
        "| YellowLive | Store1 | [yellowlive\\-store1\\-1](https://argo.example.com/workflows/ds-yellowlive/yellowlive-store1-1) | Succeeded | 7 | 5 | 2 | 1 |"
        in comment
    )
    assert "(https://cd.example.com/applications/datasurface-root)" in comment


def test_a_degraded_application_fails_the_rollout(cluster: tuple[KubeAPI, KubernetesBackend, Path]) -> None:
    api, backend, tree = cluster
    synced(api, health="Degraded", message="CronWorkflow yellowlive-store1: spec.schedules invalid")
    report = check_rollout(backend, tree, MODEL, DEPLOY)
    assert (
        report.verdict == "failure"
        and "datasurface-yellowlive is Degraded" in report.reason
        and "invalid" in report.reason
    )


def test_a_failed_sync_fails_the_rollout_with_argo_cds_message(
    cluster: tuple[KubeAPI, KubernetesBackend, Path],
) -> None:
    api, backend, tree = cluster
    synced(api, sync="OutOfSync", phase="Failed", message="one or more objects failed to apply")
    report = check_rollout(backend, tree, MODEL, DEPLOY)
    assert (
        report.verdict == "failure"
        and "could not sync datasurface-yellowlive: one or more objects failed" in report.reason
    )


def test_a_sync_that_never_reaches_the_commit_times_out(cluster: tuple[KubeAPI, KubernetesBackend, Path]) -> None:
    api, backend, tree = cluster
    for name in APPS:
        api.put("applications", application(name, "e" * 40))  # still on the previous deployment
    started = time.monotonic()
    seen: list[str] = []
    report = track_rollout(
        backend, tree, MODEL, DEPLOY, timeout=1.0, poll=0.2, on_progress=lambda r: seen.append(r.verdict)
    )
    assert report.verdict == "failure" and report.reason.startswith("timed out waiting for Argo CD to sync")
    assert 1.0 <= time.monotonic() - started < 5 and seen == ["pending", "failure"]


def test_a_failed_first_run_fails_the_rollout_and_says_why(cluster: tuple[KubeAPI, KubernetesBackend, Path]) -> None:
    api, backend, tree = cluster
    synced(api)
    first_runs(api, live_phase="Failed", message="relation customers does not exist")
    report = check_rollout(backend, tree, MODEL, DEPLOY)
    assert report.verdict == "failure"
    assert report.reason == "the first run of YellowLive/Store1 failed: relation customers does not exist"


def test_runs_of_other_model_commits_do_not_count(cluster: tuple[KubeAPI, KubernetesBackend, Path]) -> None:
    api, backend, tree = cluster
    synced(api)
    api.put(
        "workflows", workflow("yellowlive-store1-0", "ds-yellowlive", "YellowLive", "Store1", "b" * 40, "Succeeded")
    )
    report = check_rollout(backend, tree, MODEL, DEPLOY)
    assert report.verdict == "pending" and "first run of YellowForensic/Store1" in report.reason
