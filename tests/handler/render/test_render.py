"""Rendering: every document validates against the official schemas; renders are deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from handler.model import IngestionConsistencyType
from handler.render import RenderOptions, render_tree, write_tree
from handler.render.naming import k8s_name
from handler.render.streams import platform_streams
from handler.render.templates import Templates
from tests.support.manifests import documents, validation_errors
from tests.support.template import ROOT, build_template_ecosystem
from workflows.spec import JobSpec, sql_name


@pytest.fixture(scope="module")
def tree() -> dict[str, bytes]:
    return render_tree(
        build_template_ecosystem(), RenderOptions(model_commit="0123456789abcdef0123456789abcdef01234567")
    )


def test_every_rendered_document_validates_strictly(tree: dict[str, bytes]) -> None:
    docs = documents(tree)
    kinds = sorted({doc["kind"] for _, doc in docs})
    assert kinds == [
        "Application",
        "ConfigMap",
        "CronWorkflow",
        "Deployment",
        "Namespace",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "Workflow",
        "WorkflowTemplate",
    ]
    problems = [f"{path}: {error}" for path, doc in docs for error in validation_errors(doc)]
    assert problems == []


def test_the_strict_validation_catches_a_misspelt_field(tree: dict[str, bytes]) -> None:
    cron = yaml.safe_load(tree["platforms/yellowlive/30-cron-store1.yaml"])
    cron["spec"]["concurrencyPolicyy"] = "Forbid"
    assert any("concurrencyPolicyy" in e for e in validation_errors(cron))
    role = yaml.safe_load_all(tree["platforms/yellowlive/01-rbac.yaml"])
    bad = next(d for d in role if d["kind"] == "Role")
    bad["rules"][0]["verb"] = ["get"]
    assert validation_errors(bad)


def test_layout_of_the_deployment_tree(tree: dict[str, bytes]) -> None:
    assert sorted(tree) == [
        ".datasurface/manifest.json",
        "apps/platforms/yellowforensic.yaml",
        "apps/platforms/yellowlive.yaml",
        "apps/root.yaml",
        *[
            f"platforms/{p}/{f}"
            for p in ("yellowforensic", "yellowlive")
            for f in (
                "00-namespace.yaml",
                "01-rbac.yaml",
                "10-job-specs.yaml",
                "20-workflowtemplate-snapshot-merge.yaml",
                "30-cron-store1.yaml",
                "40-reconcile-views.yaml",
                "50-status-exporter.yaml",
                "51-servicemonitor.yaml",
                "52-prometheusrule.yaml",
                "53-dashboard.yaml",
            )
        ],
    ]


def test_schedules_and_concurrency_of_the_mvp_streams(tree: dict[str, bytes]) -> None:
    live = yaml.safe_load(tree["platforms/yellowlive/30-cron-store1.yaml"])
    forensic = yaml.safe_load(tree["platforms/yellowforensic/30-cron-store1.yaml"])
    assert live["spec"]["schedules"] == ["*/1 * * * *"]
    assert forensic["spec"]["schedules"] == ["*/10 * * * *"]
    for cron in (live, forensic):
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        assert cron["spec"]["startingDeadlineSeconds"] > 0
        assert cron["spec"]["workflowSpec"]["synchronization"]["mutexes"][0]["name"].endswith("-store1")
        assert cron["metadata"]["labels"]["datasurface.io/model-commit"] == "0123456789abcdef0123456789abcdef01234567"
        assert cron["metadata"]["labels"]["datasurface.io/stream"] == "Store1"
        assert "workflows.argoproj.io/title" in cron["spec"]["workflowMetadata"]["annotations"]


def test_workflow_template_runs_the_job_with_secrets_by_reference(tree: dict[str, bytes]) -> None:
    template = yaml.safe_load(tree["platforms/yellowlive/20-workflowtemplate-snapshot-merge.yaml"])
    spec = template["spec"]
    assert (
        spec["onExit"] == "notify-on-failure"
        and spec["podGC"]
        and spec["ttlStrategy"]
        and spec["activeDeadlineSeconds"] > 0
    )
    by_name = {t["name"]: t for t in spec["templates"]}
    merge = by_name["snapshot-merge"]
    assert merge["container"]["command"] == ["datasurface", "job", "snapshot-merge"]
    assert merge["retryStrategy"]["expression"] == "asInt(lastRetry.exitCode) == 75"  # transient failures only
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in merge["container"]["env"]}
    assert env == {
        "DATASURFACE_MERGE_USER": {"name": "postgres-merge", "key": "username"},
        "DATASURFACE_MERGE_PASSWORD": {"name": "postgres-merge", "key": "password"},
        # the producer secret is the one the running stream passes: no stream's secret is in the template
        "DATASURFACE_SOURCE_USER": {"name": "{{inputs.parameters.source-secret}}", "key": "username"},
        "DATASURFACE_SOURCE_PASSWORD": {"name": "{{inputs.parameters.source-secret}}", "key": "password"},
    }
    assert all("value" not in e for e in merge["container"]["env"])  # never a literal secret
    loop = by_name["merge-loop"]["steps"]
    assert "keep_working" in loop[2][0]["when"] and "< 10" in loop[2][0]["when"]
    notify_env = by_name["notify"]["container"]["env"][0]["valueFrom"]["secretKeyRef"]
    assert notify_env["optional"] is True


def test_job_specs_in_the_configmap_are_the_contract(tree: dict[str, bytes]) -> None:
    configmap = yaml.safe_load(tree["platforms/yellowforensic/10-job-specs.yaml"])
    text = configmap["data"]["Store1.json"]
    spec = JobSpec.from_json(text)  # strict: unknown or missing fields fail
    assert spec.to_json() == text  # the renderer's plain-data spec is the contract, byte for byte
    assert spec.strategy == "forensic" and spec.schedule == "*/10 * * * *"
    assert [d.name for d in spec.datasets] == ["addresses", "customers"]
    customers = spec.datasets[1]
    assert [c.name for c in customers.key_columns] == ["id"]
    assert spec.source.database == "customer_db" and spec.merge.credential == "postgres-merge"
    assert {(v.group, v.live_view, v.history_view) for v in spec.views} == {
        ("ForensicDSG", "forensicdsg_addresses", "forensicdsg_addresses_history"),
        ("ForensicDSG", "forensicdsg_customers", "forensicdsg_customers_history"),
    }


def test_argo_cd_applications_sync_automatically_in_waves(tree: dict[str, bytes]) -> None:
    app = yaml.safe_load(tree["apps/platforms/yellowlive.yaml"])
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert app["spec"]["source"]["path"] == "platforms/yellowlive"
    root = yaml.safe_load(tree["apps/root.yaml"])
    assert root["spec"]["source"]["path"] == "apps/platforms"
    waves = {}
    for path, doc in documents(tree):
        if path.startswith("platforms/yellowlive/") and "argocd.argoproj.io/sync-wave" in doc["metadata"].get(
            "annotations", {}
        ):
            waves[doc["kind"]] = int(doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    assert waves["Namespace"] < waves["Role"] < waves["ConfigMap"] < waves["WorkflowTemplate"] < waves["CronWorkflow"]


def test_every_object_is_labelled(tree: dict[str, bytes]) -> None:
    for path, doc in documents(tree):
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "datasurface-gitops", path
        assert labels["datasurface.io/model-commit"] == "0123456789abcdef0123456789abcdef01234567", path


def test_the_same_model_renders_byte_identical_files(tmp_path: Path) -> None:
    first = render_tree(build_template_ecosystem())
    second = render_tree(build_template_ecosystem())
    assert first == second
    write_tree(first, tmp_path / "a")
    result = write_tree(second, tmp_path / "a")
    assert result.written == [] and result.deleted == [] and len(result.unchanged) == len(first)


def test_manifest_records_commit_renderer_and_file_hashes(tree: dict[str, bytes]) -> None:
    import hashlib

    manifest = json.loads(tree[".datasurface/manifest.json"])
    assert manifest["model_commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert manifest["renderer"].startswith("datasurface-gitops ")
    assert manifest["files"] == {
        p: hashlib.sha256(d).hexdigest() for p, d in tree.items() if p != ".datasurface/manifest.json"
    }


def test_removed_stream_and_platform_files_disappear(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    (out / "README.md").parent.mkdir(parents=True)
    (out / "README.md").write_text("not ours")
    write_tree(render_tree(build_template_ecosystem()), out)
    assert (out / "platforms/yellowforensic/30-cron-store1.yaml").exists()

    eco = build_template_ecosystem()
    eco.dsg_platform_mappings = [m for m in eco.dsg_platform_mappings if m.dsgName != "ForensicDSG"]
    result = write_tree(render_tree(eco), out)
    assert "platforms/yellowforensic/30-cron-store1.yaml" in result.deleted  # the stream is gone
    assert not (out / "platforms/yellowforensic/30-cron-store1.yaml").exists()
    assert (out / "platforms/yellowlive/30-cron-store1.yaml").exists()

    eco.data_platforms = [p for p in eco.data_platforms if p.name != "YellowForensic"]
    write_tree(render_tree(eco), out)
    assert not (out / "platforms/yellowforensic").exists() and not (out / "apps/platforms/yellowforensic.yaml").exists()
    assert (out / "README.md").read_text() == "not ours"  # files outside the managed folders are kept


def test_single_dataset_ingestion_gives_one_stream_per_dataset() -> None:
    eco = build_template_ecosystem()
    store = eco.zones[0].teams[0].datastores[0]
    assert store.capture_metadata is not None
    store.capture_metadata.singleOrMultiDatasetIngestion = IngestionConsistencyType.SINGLE_DATASET
    specs = platform_streams(eco, eco.getDataPlatformOrThrow("YellowLive"))
    assert [(s.stream, s.datasets) for s in specs] == [
        ("Store1_addresses", ("addresses",)),
        ("Store1_customers", ("customers",)),
    ]
    tree = render_tree(eco)
    assert "platforms/yellowlive/30-cron-store1-addresses-" in "".join(tree)  # DNS form with a disambiguating hash
    assert [e for _, d in documents(tree) for e in validation_errors(d)] == []


def test_names_are_dns_and_sql_safe() -> None:
    assert k8s_name("YellowLive") == "yellowlive"
    assert k8s_name("Store_1") != k8s_name("Store-1")  # distinct model names stay distinct
    long_name = k8s_name("x" * 100, limit=52)
    assert len(long_name) == 52 and long_name != k8s_name("x" * 99, limit=52)
    assert sql_name("LiveDSG", "customers") == "livedsg_customers"
    assert len(sql_name("g" * 40, "d" * 40, "history")) == 63


def test_operators_can_override_some_templates_and_keep_the_rest(tmp_path: Path) -> None:
    shipped = ROOT / "handler" / "render" / "templates"
    (tmp_path / "k8s").mkdir()
    ns = (shipped / "k8s" / "namespace.yaml.j2").read_text()
    (tmp_path / "k8s" / "namespace.yaml.j2").write_text(
        ns.replace("labels: [[ labels | tojson ]]", 'labels: [[ dict(labels, team="data") | tojson ]]')
    )
    tree = render_tree(build_template_ecosystem(), templates=Templates(tmp_path))
    assert yaml.safe_load(tree["platforms/yellowlive/00-namespace.yaml"])["metadata"]["labels"]["team"] == "data"
    assert (
        tree["platforms/yellowlive/01-rbac.yaml"]
        == render_tree(build_template_ecosystem())["platforms/yellowlive/01-rbac.yaml"]
    )
    with pytest.raises(FileNotFoundError, match="neither an argo/ nor a k8s/"):
        Templates(tmp_path / "missing")


def test_large_platforms_split_job_specs_over_configmaps_under_the_size_limit() -> None:
    from handler.model import (
        Dataset,
        DDLColumn,
        DDLTable,
        NullableStatus,
        PrimaryKeyStatus,
        SimpleDC,
        SimpleDCTypes,
        VarChar,
    )

    eco = build_template_ecosystem()
    store = eco.zones[0].teams[0].datastores[0]
    assert store.capture_metadata is not None
    store.capture_metadata.singleOrMultiDatasetIngestion = IngestionConsistencyType.SINGLE_DATASET
    group = eco.zones[0].teams[0].workspaces[0].getDSG("LiveDSG")
    assert group is not None
    from handler.model import DatasetSink

    for i in range(400):
        columns = [DDLColumn("id", VarChar(20), NullableStatus.NOT_NULLABLE, PrimaryKeyStatus.PK)]
        columns += [DDLColumn(f"attribute_number_{c}", VarChar(100)) for c in range(19)]
        store.add(Dataset(f"table_{i:03d}", DDLTable(columns), [SimpleDC(SimpleDCTypes.PUB)]))
        group.sinks.append(DatasetSink("Store1", f"table_{i:03d}"))
    tree = render_tree(eco)
    configmaps = list(yaml.safe_load_all(tree["platforms/yellowlive/10-job-specs.yaml"]))
    assert len(configmaps) >= 2
    assert all(len(json.dumps(cm["data"])) < 1024 * 1024 for cm in configmaps)
    assert sum(len(cm["data"]) for cm in configmaps) == 402  # every stream's spec, once
    template = yaml.safe_load(tree["platforms/yellowlive/20-workflowtemplate-snapshot-merge.yaml"])
    sources = template["spec"]["volumes"][0]["projected"]["sources"]
    assert [s["configMap"]["name"] for s in sources] == [cm["metadata"]["name"] for cm in configmaps]
    assert validation_errors(template) == [] and all(validation_errors(cm) == [] for cm in configmaps)


def test_each_stream_passes_only_its_own_producer_secret() -> None:
    """Two teams' stores on one platform: each CronWorkflow names its own store's secret, and the
    shared WorkflowTemplate names no producer secret at all."""
    import copy

    from handler.model import Credential, CredentialType, DatasetSink

    eco = build_template_ecosystem()
    team = eco.zones[0].teams[0]
    other = copy.deepcopy(team.datastores[0])
    other.name = "Store2"
    assert other.capture_metadata is not None
    other.capture_metadata.credential = Credential("store2-producer", CredentialType.USER_PASSWORD)
    team.datastores.append(other)
    group = team.workspaces[0].getDSG("LiveDSG")
    assert group is not None
    group.sinks.append(DatasetSink("Store2", "customers"))
    tree = render_tree(eco)
    crons = {
        doc["spec"]["workflowSpec"]["arguments"]["parameters"][0]["value"]: doc["spec"]["workflowSpec"]["arguments"][
            "parameters"
        ][1]
        for path, doc in documents(tree)
        if doc["kind"] == "CronWorkflow" and path.startswith("platforms/yellowlive/")
    }
    assert crons == {
        "Store1": {"name": "source-secret", "value": "postgres-producer"},
        "Store2": {"name": "source-secret", "value": "store2-producer"},
    }
    template = tree["platforms/yellowlive/20-workflowtemplate-snapshot-merge.yaml"].decode()
    assert "postgres-producer" not in template and "store2-producer" not in template


def test_runs_lead_back_to_the_model_commit_pull_request_and_deployment() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    options = RenderOptions(
        model_commit=sha,
        model_repo="acme/model",
        pull_request=42,
        repo_url="https://github.com/acme/deployment.git",
    )
    crons = [
        doc for _, doc in documents(render_tree(build_template_ecosystem(), options)) if doc["kind"] == "CronWorkflow"
    ]
    assert crons
    for cron in crons:
        run = cron["spec"]["workflowMetadata"]
        assert (
            run["labels"]["datasurface.io/model-commit"] == sha and run["labels"]["datasurface.io/pull-request"] == "42"
        )
        assert run["annotations"]["datasurface.io/model-commit-url"] == f"https://github.com/acme/model/commit/{sha}"
        assert run["annotations"]["datasurface.io/pull-request-url"] == "https://github.com/acme/model/pull/42"
        assert run["annotations"]["datasurface.io/deployment-url"] == (
            f"https://github.com/acme/deployment/search?type=commits&q={sha}"
        )
    # The Argo UI links of the cluster install read exactly the annotations rendered on each run.
    controller = yaml.safe_load((ROOT / "k8s/argo-workflows/workflow-controller-configmap.yaml").read_text())
    for link in yaml.safe_load(controller["data"]["links"]):
        key = link["url"].removeprefix("${workflow.metadata.annotations.").removesuffix("}")
        assert link["scope"] == "workflow" and key in crons[0]["spec"]["workflowMetadata"]["annotations"]
    for column in yaml.safe_load(controller["data"]["columns"]):
        assert column["key"] in crons[0]["spec"]["workflowMetadata"]["labels"]
