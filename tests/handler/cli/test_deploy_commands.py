"""``datasurface render``, ``plan``, ``deploy`` and ``job spec`` as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

from handler.render.preview import preview
from tests.support.cli import run_cli as run
from tests.support.gitrepos import ModelRepo, add_column, git
from tests.support.template import TEMPLATE, build_template_ecosystem


def test_render_writes_the_tree_and_is_idempotent(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    first = run("render", "--model", str(TEMPLATE), "--out", str(out), "--model-commit", "feedbeef")
    assert first.returncode == 0, first.stderr
    assert "24 written" in first.stdout
    assert json.loads((out / ".datasurface/manifest.json").read_text())["model_commit"] == "feedbeef"
    second = run("render", "--model", str(TEMPLATE), "--out", str(out), "--model-commit", "feedbeef")
    assert "0 written, 24 unchanged, 0 deleted" in second.stdout


def test_render_labels_monitors_for_a_prometheus_and_links_the_argo_ui(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    args = ["render", "--model", str(TEMPLATE), "--out", str(out), "--argo-ui-url", "https://argo.acme.test"]
    result = run(*args, "--monitoring-label", "release=kube-prometheus-stack")
    assert result.returncode == 0, result.stderr
    assert "release: kube-prometheus-stack" in (out / "platforms/yellowlive/52-prometheusrule.yaml").read_text()
    assert "https://argo.acme.test/workflows/" in (out / "platforms/yellowlive/53-dashboard.yaml").read_text()
    bad = run(*args, "--monitoring-label", "release")
    assert bad.returncode == 2 and "--monitoring-label" in bad.stderr


def test_render_refuses_a_model_with_lint_errors(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(TEMPLATE, model)
    (model / "eco.py").write_text((model / "eco.py").read_text().replace('"firstName"', '"first-name"'))
    result = run("render", "--model", str(model), "--out", str(tmp_path / "deploy"))
    assert result.returncode == 1
    assert "identifier-invalid" in result.stdout + result.stderr
    assert not (tmp_path / "deploy").exists()


def test_job_spec_prints_one_streams_contract() -> None:
    result = run("job", "spec", "--model", str(TEMPLATE), "--platform", "YellowForensic", "--stream", "Store1")
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert (spec["platform"], spec["strategy"], spec["stream"], spec["spec_version"]) == (
        "YellowForensic",
        "forensic",
        "Store1",
        1,
    )
    missing = run("job", "spec", "--model", str(TEMPLATE), "--platform", "YellowLive", "--stream", "Nope")
    assert missing.returncode == 2 and "streams: Store1" in missing.stderr


def test_plan_lists_what_a_merge_changes(tmp_path: Path) -> None:
    head = tmp_path / "head"
    shutil.copytree(TEMPLATE, head)
    mapping = json.loads((head / "dsg_platform_mapping.json").read_text())
    (head / "dsg_platform_mapping.json").write_text(json.dumps([m for m in mapping if m["dsgName"] == "LiveDSG"]))
    (head / "eco.py").write_text(
        (head / "eco.py")
        .read_text()
        .replace(
            'DDLColumn("phone", VarChar(100))',
            'DDLColumn("phone", VarChar(100)),\n                            DDLColumn("nickname", VarChar(40))',
        )
    )
    result = run("plan", "--base", str(TEMPLATE), "--head", str(head), "--format", "json")
    assert result.returncode == 0, result.stderr
    items = {(i["category"], i["name"], i["kind"]) for i in json.loads(result.stdout)["items"]}
    assert ("stream", "YellowForensic/Store1", "removed") in items
    assert ("stream", "YellowLive/Store1", "changed") in items
    assert ("view", "YellowForensic: consumer1.forensicdsg_customers_history", "removed") in items
    assert ("view", "YellowLive: consumer1.livedsg_customers", "changed") in items
    assert ("file", "platforms/yellowforensic/30-cron-store1.yaml", "removed") in items
    assert ("platform", "YellowForensic", "changed") not in items  # the platform itself stays
    diff = json.loads(result.stdout)["diffs"]["platforms/yellowlive/10-job-specs.yaml"]
    assert "+" in diff and "nickname" in diff
    markdown = run("plan", "--base", str(TEMPLATE), "--head", str(head), "--format", "markdown").stdout
    assert markdown.startswith("### Merge preview") and "```diff" in markdown


def test_an_unchanged_model_previews_nothing() -> None:
    assert preview(build_template_ecosystem(), build_template_ecosystem()).empty


def deploy(model: ModelRepo, deploy_repo: Path | str, work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "deploy",
        "--model",
        str(model.work),
        "--deploy-repo",
        str(deploy_repo),
        "--model-repo",
        "acme/datasurface-model",
        "--work-dir",
        str(work),
        *extra,
    )


def test_deploy_commits_once_and_never_rolls_back(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    first = model.sha()
    result = deploy(model, bare, tmp_path / "w1")
    assert result.returncode == 0 and result.stdout.startswith("deployed:"), result.stderr
    assert deploy(model, bare, tmp_path / "w2").stdout.startswith("already-deployed:")
    middle = model.change(add_column("nickname"), "add nickname")  # merged, but its deployment is late
    newer = model.change(add_column("loyalty"), "add loyalty")
    assert deploy(model, bare, tmp_path / "w1").stdout.startswith("deployed:")
    late = deploy(model, bare, tmp_path / "w2", "--model-commit", middle)
    assert late.returncode == 0 and late.stdout.startswith("superseded:") and "not rolling back" in late.stdout
    trailers = git(
        tmp_path, "--git-dir", str(bare), "log", "--format=%(trailers:key=Model-Commit,valueonly,separator=)", "main"
    ).split()
    assert trailers == [newer, first]


def test_deploy_refuses_a_model_with_lint_errors(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    model.change(lambda t: t.replace('"firstName"', '"first-name"'), "bad")
    result = deploy(model, bare, tmp_path / "w")
    assert result.returncode == 1 and "identifier-invalid" in result.stdout + result.stderr
    assert git(tmp_path, "--git-dir", str(bare), "branch") == ""


def test_two_deployment_repositories_get_their_own_clones(tmp_path: Path) -> None:
    from handler.gitrepo import DeployRepo

    first, second = (
        DeployRepo(tmp_path, "https://github.com/acme/a.git", "main"),
        DeployRepo(tmp_path, "https://github.com/acme/b.git", "main"),
    )
    assert first.path != second.path
    assert (
        DeployRepo(tmp_path, "https://x-access-token:secret@github.com/acme/a.git", "main").path == first.path
    )  # a new token, the same clone
    assert DeployRepo(tmp_path, "https://github.com/acme/a.git", "staging").path != first.path
    assert "secret" not in str(DeployRepo(tmp_path, "https://x-access-token:secret@github.com/acme/a.git", "main").path)


def test_concurrent_deployments_to_one_repository_take_turns(tmp_path: Path) -> None:
    import time

    from handler.gitrepo import DeployRepo

    deploy = DeployRepo(tmp_path, str(tmp_path / "deploy.git"), "main")
    inside: list[int] = []
    overlaps: list[int] = []

    def use() -> None:
        with deploy.locked():
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_deploy_never_writes_push_credentials_into_the_manifests(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    result = deploy(model, f"file://bot:s3cret-token@localhost{bare}", tmp_path / "w")
    assert result.returncode == 0 and result.stdout.startswith("deployed:"), result.stderr
    root = git(tmp_path, "--git-dir", str(bare), "show", "main:apps/root.yaml")
    assert f"repoURL: file://localhost{bare}" in root and "s3cret-token" not in root


def test_a_deployment_commit_names_its_model_commit_for_argo_cd(tmp_path: Path) -> None:
    model = ModelRepo(tmp_path)
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    assert deploy(model, bare, tmp_path / "w").returncode == 0
    sha = model.sha()
    trailers = git(tmp_path, "--git-dir", str(bare), "log", "-1", "--format=%(trailers)", "main")
    assert f"Model-Commit: {sha}" in trailers
    assert f"Argocd-reference-commit-sha: {sha}" in trailers
    assert "Argocd-reference-commit-repourl: https://github.com/acme/datasurface-model" in trailers
    assert "Argocd-reference-commit-author: dev <dev@example.com>" in trailers
    assert "Argocd-reference-commit-subject: initial model" in trailers
    assert "Argocd-reference-commit-date: 20" in trailers
