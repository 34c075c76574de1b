"""Where a rollout's facts come from, and the one implementation for a cluster.

``KubernetesBackend`` reads Argo CD ``applications`` and Argo Workflows ``workflows`` custom
objects through the Kubernetes API with the official client: in a pod with its service account,
or from a kubeconfig. It needs read access to those two resources and nothing else.
"""

from __future__ import annotations

from typing import Any, Protocol

from handler.rollout.model import AppState, RunState

GROUP, VERSION = "argoproj.io", "v1alpha1"
MODEL_COMMIT_LABEL = "datasurface.io/model-commit"


class RolloutBackend(Protocol):
    def applications(self, names: list[str]) -> list[AppState]:
        """The named Argo CD Applications that exist."""
        ...

    def runs(self, namespaces: list[str], model_commit: str) -> list[RunState]:
        """Workflows of the given namespaces labelled with the model commit."""
        ...


class KubernetesBackend:
    def __init__(
        self, argocd_namespace: str = "argocd", kubeconfig: str | None = None, context: str | None = None
    ) -> None:
        from kubernetes import client
        from kubernetes import config as kube_config

        loader: Any = kube_config  # the package's loaders are untyped
        if kubeconfig is None:
            try:
                loader.load_incluster_config()
            except kube_config.ConfigException:
                loader.load_kube_config(context=context)
        else:
            loader.load_kube_config(config_file=kubeconfig, context=context)
        self.api: Any = client.CustomObjectsApi()
        self.argocd_namespace = argocd_namespace

    def applications(self, names: list[str]) -> list[AppState]:
        items = self.api.list_namespaced_custom_object(GROUP, VERSION, self.argocd_namespace, "applications")["items"]
        return [app_state(item) for item in items if item.get("metadata", {}).get("name") in names]

    def runs(self, namespaces: list[str], model_commit: str) -> list[RunState]:
        found: list[RunState] = []
        for namespace in sorted(set(namespaces)):
            items = self.api.list_namespaced_custom_object(
                GROUP, VERSION, namespace, "workflows", label_selector=f"{MODEL_COMMIT_LABEL}={model_commit}"
            )["items"]
            found += [run_state(item) for item in items]
        return found


def app_state(item: dict[str, Any]) -> AppState:
    """An Application object (``argoproj.io/v1alpha1``), as its CRD defines ``status``."""
    status = item.get("status") or {}
    sync, health, operation = status.get("sync") or {}, status.get("health") or {}, status.get("operationState") or {}
    return AppState(
        name=str(item["metadata"]["name"]),
        sync_status=str(sync.get("status", "Unknown")),
        revision=str(sync.get("revision", "")),
        health=str(health.get("status", "Unknown")),
        operation_phase=str(operation.get("phase", "")),
        message=str(operation.get("message") or health.get("message") or ""),
    )


def run_state(item: dict[str, Any]) -> RunState:
    """A Workflow object (``argoproj.io/v1alpha1``): phase, start, message and global outputs."""
    metadata, status = item.get("metadata") or {}, item.get("status") or {}
    labels = metadata.get("labels") or {}
    outputs = {p["name"]: str(p.get("value", "")) for p in (status.get("outputs") or {}).get("parameters") or []}
    return RunState(
        name=str(metadata.get("name", "")),
        namespace=str(metadata.get("namespace", "")),
        platform=str(labels.get("datasurface.io/platform", "")),
        stream=str(labels.get("datasurface.io/stream", "")),
        model_commit=str(labels.get(MODEL_COMMIT_LABEL, "")),
        phase=str(status.get("phase") or "Pending"),
        started_at=str(status.get("startedAt") or ""),
        finished_at=str(status.get("finishedAt") or ""),
        message=str(status.get("message") or ""),
        outputs=outputs,
    )
