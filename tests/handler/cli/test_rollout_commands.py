"""``datasurface rollout``, ``runs`` and ``rerun`` as a user runs them, against a Kubernetes API
stand-in (the ``kubernetes`` client) and an Argo Server stand-in (the ``argo-workflows`` client)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from handler.render import RenderOptions, render_tree, write_tree
from tests.handler.cli.test_deploy_commands import deploy
from tests.support.argo_server import ArgoServerStandIn
from tests.support.cli import run_cli as run
from tests.support.fake_github import ServerThread
from tests.support.gitrepos import ModelRepo, git
from tests.support.kube_api import KubeAPI, roll_out_template, workflow
from tests.support.manifests import documents
from tests.support.template import build_template_ecosystem


def test_rollout_follows_a_deployment_to_its_first_runs(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    assert deploy(model, bare, tmp_path / "w").returncode == 0
    sha, deployed = model.sha(), git(tmp_path, "--git-dir", str(bare), "rev-parse", "main").strip()
    api = KubeAPI()
    with ServerThread(api.app()) as url:
        kubeconfig = str(api.kubeconfig(tmp_path, url))
        look = ("rollout", "--model-commit", sha, "--deployment", str(bare), "--kubeconfig", kubeconfig, "--once")
        pending = run(*look)
        assert pending.returncode == 3, pending.stderr
        assert "pending" in pending.stdout
        roll_out_template(api, sha, deployed, failing="YellowLive")
        failed = run(*look, "--format", "markdown")
        assert failed.returncode == 1, failed.stderr
        assert "relation people does not exist" in failed.stdout
        unknown = run("rollout", "--model-commit", "f" * 40, "--deployment", str(bare), "--kubeconfig", kubeconfig)
        assert unknown.returncode == 2 and "no deployment commit" in unknown.stderr


@pytest.fixture
def argo(tmp_path: Path) -> Iterator[tuple[ArgoServerStandIn, str, Path]]:
    """An Argo Server that knows the rendered CronWorkflows, and a checkout of the deployment."""
    tree = render_tree(build_template_ecosystem(), RenderOptions(model_commit="c" * 40, model_repo="acme/model"))
    deployment = tmp_path / "deployment"
    write_tree(tree, deployment)
    server = ArgoServerStandIn()
    for _, doc in documents(tree):
        if doc["kind"] == "CronWorkflow":
            server.add_cron(doc)
    with ServerThread(server.app()) as url:
        yield server, url, deployment


def test_runs_lists_each_streams_recent_runs_with_counts_and_links(
    argo: tuple[ArgoServerStandIn, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url, deployment = argo
    for n, phase in ((1, "Succeeded"), (2, "Failed")):
        run_ = workflow(
            f"yellowlive-store1-{n}",
            "ds-yellowlive",
            "YellowLive",
            "Store1",
            "c" * 40,
            phase,
            "merge: deadlock detected" if phase == "Failed" else "",
            {"batch": str(n), "inserted": "10", "updated": "2", "deleted": "0"},
            started=f"2026-11-26T0{n}:00:00Z",
        )
        run_["status"]["finishedAt"] = f"2026-11-26T0{n}:01:30Z"
        server.put(run_)
    monkeypatch.setenv("DATASURFACE_ARGO_TOKEN", "Bearer test-argo-token")
    listed = run("runs", "--argo-server", url, "--deployment", str(deployment), "--format", "json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    live = [r for r in rows if r["platform"] == "YellowLive"]
    assert [(r["name"], r["phase"], r["batch"], r["inserted"], r["duration"]) for r in live] == [
        ("yellowlive-store1-2", "Failed", "2", "10", "1m30s"),
        ("yellowlive-store1-1", "Succeeded", "1", "10", "1m30s"),
    ]
    assert live[0]["url"] == f"{url}/workflows/ds-yellowlive/yellowlive-store1-2"
    assert [r for r in rows if r["platform"] == "YellowForensic"] == []
    text = run("runs", "--argo-server", url, "--deployment", str(deployment), "-p", "YellowLive", "-n", "1")
    assert "yellowlive-store1-2" in text.stdout and "deadlock detected" in text.stdout
    assert "yellowlive-store1-1" not in text.stdout
    unknown = run("runs", "--argo-server", url, "--deployment", str(deployment), "-p", "Nope")
    assert unknown.returncode == 2 and "YellowLive/Store1" in unknown.stderr


def test_rerun_submits_from_the_cronworkflow_and_waits_for_the_end(
    argo: tuple[ArgoServerStandIn, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url, deployment = argo
    monkeypatch.setenv("DATASURFACE_ARGO_TOKEN", "test-argo-token")
    common = ("--argo-server", url, "--deployment", str(deployment), "-p", "YellowForensic", "-s", "Store1")
    submitted = run("rerun", *common, "--wait", "--poll", "0.05")
    assert submitted.returncode == 0, submitted.stderr
    ((namespace, name), created) = next(iter(server.workflows.items()))
    assert namespace == "ds-yellowforensic" and name.startswith("yellowforensic-store1-")
    assert created["metadata"]["labels"]["datasurface.io/submitted-by"] == "datasurface-rerun"
    assert created["metadata"]["labels"]["datasurface.io/model-commit"] == "c" * 40
    assert f"{url}/workflows/ds-yellowforensic/{name}" in submitted.stdout and "Succeeded" in submitted.stdout
    server.finish_phase = "Failed"
    failed = run("rerun", *common, "--wait", "--poll", "0.05")
    assert failed.returncode == 1 and "Failed" in failed.stdout


def test_the_argo_server_refusing_the_token_is_a_clear_error(
    argo: tuple[ArgoServerStandIn, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url, deployment = argo
    monkeypatch.setenv("DATASURFACE_ARGO_TOKEN", "expired")
    refused = run("rerun", "--argo-server", url, "--deployment", str(deployment), "-p", "YellowLive", "-s", "Store1")
    assert refused.returncode == 2 and "Argo Server answered 401: token not valid" in refused.stderr


def test_rerun_of_a_stream_whose_cronworkflow_is_not_deployed_says_so(
    argo: tuple[ArgoServerStandIn, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url, deployment = argo
    server.crons.clear()  # the deployment checkout is ahead of what Argo CD synced
    monkeypatch.setenv("DATASURFACE_ARGO_TOKEN", "test-argo-token")
    missing = run("rerun", "--argo-server", url, "--deployment", str(deployment), "-p", "YellowLive", "-s", "Store1")
    assert missing.returncode == 2
    assert "Argo Server answered 404" in missing.stderr and "not found" in missing.stderr
    assert server.workflows == {}
