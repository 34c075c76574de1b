"""Render a model into the deployment tree: ``{relative path: file bytes}`` (pure).

Per platform, under ``platforms/<platform>/``: Namespace, RBAC, a ConfigMap with the job spec
of every stream, the snapshot-merge WorkflowTemplate, one CronWorkflow per stream, the
view-reconcile PostSync Workflow, and what operates it: the status exporter (Deployment, Service),
its ServiceMonitor, the platform's PrometheusRule and its Grafana dashboard; an Argo CD Application per platform under
``apps/platforms/`` and the root Application (app of apps) at ``apps/root.yaml``; and
``.datasurface/manifest.json`` with the model commit, the renderer version and a hash per file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from handler import __version__
from handler.model.ecosystem import Ecosystem
from handler.model.platform import YellowDataPlatform
from handler.render.alerts import platform_rule_groups
from handler.render.dashboard import SIDECAR_LABEL, build_dashboard
from handler.render.naming import CRON_WORKFLOW_NAME_MAX, k8s_name
from handler.render.streams import Stream, platform_streams
from handler.render.templates import Templates, dump_documents
from workflows.spec import SECRET_PASSWORD_KEY, SECRET_USER_KEY, consumer_credential_env, credential_env

MANIFEST_PATH = ".datasurface/manifest.json"
#: Top-level folders the renderer owns in the deployment repo; other files are left alone.
MANAGED_ROOTS = ("platforms", "apps", ".datasurface")


@dataclass(frozen=True)
class RenderOptions:
    image: str = f"ghcr.io/datasurface/datasurface-gitops:{__version__}"
    repo_url: str = "https://github.com/acme/datasurface-deployment.git"
    target_revision: str = "main"
    argocd_namespace: str = "argocd"
    argocd_project: str = "default"
    argo_ui_url: str = "https://argo-workflows.example.com"
    notify_secret: str = "datasurface-notify"  # noqa: S105 - the name of a Kubernetes secret
    model_commit: str | None = None
    # Where runs lead back to in the Argo UI: the model repository (owner/name) on this web host,
    # and the pull request that merged the model commit, when known.
    model_repo: str | None = None
    pull_request: int | None = None
    web_url: str = "https://github.com"
    # Monitoring (prometheus-operator and Grafana): labels a Prometheus selects ServiceMonitors and
    # PrometheusRules by (kube-prometheus-stack: {"release": "<its release name>"}), and where the
    # alerts' runbooks are.
    monitoring_labels: dict[str, str] = field(default_factory=dict)
    runbook_url: str = "https://github.com/datasurface/datasurface-gitops/blob/main/docs/operations.md"
    exporter_port: int = 9108
    max_iterations: int = 10
    retry_limit: int = 3
    active_deadline_seconds: int = 3600
    resources: dict[str, Any] = field(
        default_factory=lambda: {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        }
    )


CONFIGMAP_BUDGET = 900 * 1024  # Kubernetes rejects ConfigMaps over 1 MiB; keep room for metadata


def spec_configmaps(prefix: str, specs: list[Stream]) -> list[dict[str, Any]]:
    """The streams' spec files packed into as few ConfigMaps as the size limit allows."""
    chunks: list[dict[str, str]] = [{}]
    size = 0
    for spec in specs:
        text = spec.spec_json
        if chunks[-1] and size + len(text) > CONFIGMAP_BUDGET:
            chunks.append({})
            size = 0
        chunks[-1][f"{spec.stream}.json"] = text
        size += len(text)
    return [{"name": prefix if i == 0 else f"{prefix}-{i}", "data": data} for i, data in enumerate(chunks)]


_SMALL_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}}
_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def _label_value(value: str) -> str:
    """Model names are valid label values when they are SQL-safe; others get a DNS form."""
    return (
        value
        if len(value) <= 63 and value.replace("_", "").replace("-", "").replace(".", "").isalnum()
        else k8s_name(value)
    )


#: The secret of a stream's producer database: each CronWorkflow passes its own stream's, so a run
#: can read no other stream's secret, although the platform's streams share one WorkflowTemplate.
SOURCE_SECRET_PARAMETER = "{{inputs.parameters.source-secret}}"  # noqa: S105 - a secret name, by parameter


def _secret_env(variables: tuple[str, str], secret: str) -> list[dict[str, Any]]:
    """The user and password variables, from the secret's keys, by reference."""
    return [
        {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for variable, key in zip(variables, (SECRET_USER_KEY, SECRET_PASSWORD_KEY), strict=True)
    ]


def _consumer_env(specs: list[Stream]) -> list[dict[str, Any]]:
    """The credentials of the platform's consumer databases, one variable pair per secret."""
    secrets = sorted({c for s in specs for c in s.consumer_credentials})
    return [var for secret in secrets for var in _secret_env(consumer_credential_env(secret), secret)]


def _merge_env(specs: list[Stream]) -> list[dict[str, Any]]:
    secrets = sorted({s.merge_credential for s in specs})
    if len(secrets) > 1:  # one platform, one merge database: lint rule platform-config keeps it so
        raise ValueError(f"the streams of one platform name several merge credentials: {', '.join(secrets)}")
    return _secret_env(credential_env("merge"), secrets[0]) if secrets else []


def origin_annotations(options: RenderOptions) -> dict[str, str]:
    """Annotations that lead from a run back to its origin: the model repository and commit, the
    pull request, and the deployment commit (found by the model commit its trailer names). The
    Argo Workflows UI shows them as links (``k8s/argo-workflows/``)."""
    if not (options.model_repo and options.model_commit):
        return {}
    web = options.web_url.rstrip("/")
    deployment = options.repo_url.removesuffix(".git").rstrip("/")
    annotations = {
        "datasurface.io/model-repo": options.model_repo,
        "datasurface.io/model-commit": options.model_commit,
        "datasurface.io/model-commit-url": f"{web}/{options.model_repo}/commit/{options.model_commit}",
        "datasurface.io/deployment-url": f"{deployment}/search?type=commits&q={options.model_commit}",
    }
    if options.pull_request is not None:
        annotations["datasurface.io/pull-request"] = str(options.pull_request)
        annotations["datasurface.io/pull-request-url"] = f"{web}/{options.model_repo}/pull/{options.pull_request}"
    return annotations


def all_streams(eco: Ecosystem) -> dict[str, list[Stream]]:
    """Job specs of every platform's streams, by platform name."""
    return {platform.name: platform_streams(eco, platform) for platform in eco.data_platforms}


def render_platform(
    platform: YellowDataPlatform, specs: list[Stream], options: RenderOptions, templates: Templates
) -> dict[str, bytes]:
    pname = k8s_name(platform.name)
    namespace = platform.namespace or k8s_name("ds", platform.name)
    labels = {
        "app.kubernetes.io/name": "datasurface",
        "app.kubernetes.io/part-of": "datasurface",
        "app.kubernetes.io/managed-by": "datasurface-gitops",
        "app.kubernetes.io/instance": pname,
        "app.kubernetes.io/version": __version__,
        "datasurface.io/platform": _label_value(platform.name),
    }
    if options.model_commit:
        labels["datasurface.io/model-commit"] = options.model_commit
    if options.pull_request is not None:
        labels["datasurface.io/pull-request"] = str(options.pull_request)
    origin = origin_annotations(options)
    base = {
        "platform": platform.name,
        "namespace": namespace,
        "labels": labels,
        "strategy": "forensic (SCD2)" if specs and specs[0].strategy == "forensic" else "live (SCD1)",
        "service_account": f"{pname}-workflows",
        "spec_configmaps": spec_configmaps(f"{pname}-job-specs", specs),
        "workflow_template": f"{pname}-snapshot-merge",
        "reconcile_workflow": f"{pname}-reconcile-views",
        "image": options.image,
        "resources": options.resources,
        "small_resources": _SMALL_RESOURCES,
        "security_context": _SECURITY_CONTEXT,
        "job_env": _merge_env(specs) + _secret_env(credential_env("source"), SOURCE_SECRET_PARAMETER),
        # Reconciling views and reporting status reach the consumer databases too.
        "views_env": _merge_env(specs) + _consumer_env(specs),
        "max_iterations": options.max_iterations,
        "retry_limit": options.retry_limit,
        "active_deadline_seconds": options.active_deadline_seconds,
        "argo_ui_url": options.argo_ui_url.rstrip("/"),
        "notify_secret": options.notify_secret,
        "streams": [s.stream for s in specs],
    }
    folder = f"platforms/{pname}"
    files: dict[str, bytes] = {}

    def emit(path: str, template: str, context: dict[str, Any]) -> None:
        files[f"{folder}/{path}"] = dump_documents(templates.render_documents(template, context))

    emit("00-namespace.yaml", "k8s/namespace.yaml.j2", base)
    emit("01-rbac.yaml", "k8s/rbac.yaml.j2", base)
    configmaps = templates.render_documents("k8s/configmap-job-specs.yaml.j2", base)
    for document, chunk in zip(configmaps, spec_configmaps(f"{pname}-job-specs", specs), strict=True):
        document["data"] = chunk["data"]
    files[f"{folder}/10-job-specs.yaml"] = dump_documents(configmaps)
    emit("20-workflowtemplate-snapshot-merge.yaml", "argo/workflowtemplate-snapshot-merge.yaml.j2", base)
    for spec in specs:
        cron_name = k8s_name(pname, spec.stream, limit=CRON_WORKFLOW_NAME_MAX)
        stream_labels = {
            **labels,
            "datasurface.io/stream": _label_value(spec.stream),
            "app.kubernetes.io/component": "ingestion",
        }
        title = f"{platform.name} / {spec.stream}"
        description = (
            f"Snapshot-merge of datastore {spec.store} ({', '.join(spec.datasets)}) into {spec.strategy} tables"
        )
        emit(
            f"30-cron-{k8s_name(spec.stream)}.yaml",
            "argo/cronworkflow-stream.yaml.j2",
            {
                **base,
                "cron_name": cron_name,
                "stream": spec.stream,
                "source_secret": spec.source_credential,
                "schedule": spec.schedule,
                "starting_deadline_seconds": 60,
                "mutex": f"{pname}-{k8s_name(spec.stream)}",
                "stream_labels": stream_labels,
                "cron_annotations": {
                    "argocd.argoproj.io/sync-wave": "2",
                    "workflows.argoproj.io/title": title,
                    "workflows.argoproj.io/description": description,
                    **origin,
                },
                "run_annotations": {
                    "workflows.argoproj.io/title": title,
                    "workflows.argoproj.io/description": description,
                    **origin,
                },
            },
        )
    if specs:
        emit("40-reconcile-views.yaml", "argo/workflow-reconcile-views.yaml.j2", base)
        files.update(_monitoring(platform.name, pname, base, options, templates))
    app = {
        **base,
        "application": f"datasurface-{pname}",
        "argocd_namespace": options.argocd_namespace,
        "argocd_project": options.argocd_project,
        "repo_url": options.repo_url,
        "target_revision": options.target_revision,
        "platform_path": folder,
    }
    files[f"apps/platforms/{pname}.yaml"] = dump_documents(
        templates.render_documents("argo/application-platform.yaml.j2", app)
    )
    return files


def _monitoring(
    platform: str, pname: str, base: dict[str, Any], options: RenderOptions, templates: Templates
) -> dict[str, bytes]:
    """The status exporter, its ServiceMonitor, the platform's alerting rules and dashboard."""
    folder = f"platforms/{pname}"
    namespace, labels = base["namespace"], base["labels"]
    name = k8s_name(pname, "status-exporter")
    selector = {"app.kubernetes.io/instance": pname, "app.kubernetes.io/component": "status-exporter"}
    context = {
        **base,
        "exporter_name": name,
        "exporter_port": options.exporter_port,
        "exporter_selector": selector,
        "exporter_labels": {**labels, **selector},
        # Pod labels leave out the model commit and pull request, so a merge does not restart the exporter.
        "exporter_pod_labels": {
            **{
                k: v
                for k, v in labels.items()
                if k not in ("datasurface.io/model-commit", "datasurface.io/pull-request")
            },
            **selector,
        },
        "monitoring_labels": {**labels, **options.monitoring_labels},
    }
    metadata = {"namespace": namespace, "labels": {**labels, **options.monitoring_labels}}
    rules = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": k8s_name(pname, "alerts"), **metadata},
        "spec": {"groups": platform_rule_groups(platform, name, namespace, options.runbook_url)},
    }
    uid = k8s_name("datasurface", pname, limit=40)  # Grafana's uid limit
    board = build_dashboard(platform, uid, options.argo_ui_url.rstrip("/"))
    dashboard = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": k8s_name(pname, "dashboard"),
            "namespace": namespace,
            "labels": {**labels, **SIDECAR_LABEL},
            "annotations": {"grafana_folder": "DataSurface"},
        },
        "data": {f"{uid}.json": json.dumps(board, indent=1, sort_keys=True) + "\n"},
    }
    return {
        f"{folder}/50-status-exporter.yaml": dump_documents(
            templates.render_documents("k8s/status-exporter.yaml.j2", context)
        ),
        f"{folder}/51-servicemonitor.yaml": dump_documents(
            templates.render_documents("k8s/servicemonitor.yaml.j2", context)
        ),
        f"{folder}/52-prometheusrule.yaml": dump_documents([rules]),
        f"{folder}/53-dashboard.yaml": dump_documents([dashboard]),
    }


def render_tree(
    eco: Ecosystem,
    options: RenderOptions | None = None,
    templates: Templates | None = None,
    streams: dict[str, list[Stream]] | None = None,
) -> dict[str, bytes]:
    """Every file of the deployment tree, deterministic for a given model and options.

    ``streams`` (from ``all_streams``) saves recomputing the job specs when the caller has them.
    """
    options = options or RenderOptions()
    templates = templates or Templates()
    streams = streams if streams is not None else all_streams(eco)
    files: dict[str, bytes] = {}
    for platform in sorted(eco.data_platforms, key=lambda p: p.name):
        files.update(render_platform(platform, streams[platform.name], options, templates))
    root_labels = {
        "app.kubernetes.io/name": "datasurface",
        "app.kubernetes.io/managed-by": "datasurface-gitops",
        "app.kubernetes.io/version": __version__,
    }
    if options.model_commit:
        root_labels["datasurface.io/model-commit"] = options.model_commit
    files["apps/root.yaml"] = dump_documents(
        templates.render_documents(
            "argo/application-root.yaml.j2",
            {
                "labels": root_labels,
                "argocd_namespace": options.argocd_namespace,
                "argocd_project": options.argocd_project,
                "repo_url": options.repo_url,
                "target_revision": options.target_revision,
            },
        )
    )
    files[MANIFEST_PATH] = manifest(files, options)
    return dict(sorted(files.items()))


def manifest(files: dict[str, bytes], options: RenderOptions) -> bytes:
    body = {
        "model_commit": options.model_commit,
        "renderer": f"datasurface-gitops {__version__}",
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())},
    }
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
