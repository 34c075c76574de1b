"""A local stand-in for the Kubernetes API server, for Argo CD ``applications`` and Argo
Workflows ``workflows`` custom objects: list (with ``labelSelector``) and get, shaped as the
API server returns them (``<Kind>List`` with ``items``, 404 ``Status`` objects), reached by the
real ``kubernetes`` client through a kubeconfig."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

PLURALS = {"applications": "Application", "workflows": "Workflow"}


@dataclass
class KubeAPI:
    objects: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (plural, namespace) -> items
    lock: threading.Lock = field(default_factory=threading.Lock)
    token: str = "test-kube-token"

    def put(self, plural: str, obj: dict[str, Any]) -> None:
        """Create or replace an object (by namespace and name)."""
        key = (plural, obj["metadata"]["namespace"])
        with self.lock:
            items = [o for o in self.objects.get(key, []) if o["metadata"]["name"] != obj["metadata"]["name"]]
            self.objects[key] = [*items, obj]

    def kubeconfig(self, folder: Path, server: str) -> Path:
        path = folder / "kubeconfig"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "test",
                    "clusters": [{"name": "test", "cluster": {"server": server}}],
                    "users": [{"name": "test", "user": {"token": self.token}}],
                    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
                }
            )
        )
        return path

    def app(self) -> FastAPI:
        app = FastAPI()

        def forbidden(request: Request) -> JSONResponse | None:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse(_status(401, "Unauthorized", "Unauthorized"), status_code=401)
            return None

        @app.get("/apis/argoproj.io/v1alpha1/namespaces/{namespace}/{plural}")
        def list_objects(namespace: str, plural: str, request: Request) -> JSONResponse:
            denied = forbidden(request)
            if denied is not None:
                return denied
            if plural not in PLURALS:
                return JSONResponse(
                    _status(404, "NotFound", "the server could not find the requested resource"), status_code=404
                )
            selector = dict(
                part.split("=", 1) for part in request.query_params.get("labelSelector", "").split(",") if "=" in part
            )
            with self.lock:
                items = [
                    o
                    for o in self.objects.get((plural, namespace), [])
                    if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                ]
            return JSONResponse(
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": f"{PLURALS[plural]}List",
                    "metadata": {"resourceVersion": "1"},
                    "items": items,
                }
            )

        return app


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def application(
    name: str,
    revision: str,
    sync: str = "Synced",
    health: str = "Healthy",
    phase: str = "Succeeded",
    message: str = "",
    namespace: str = "argocd",
) -> dict[str, Any]:
    """An Argo CD Application with the status fields its CRD defines."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/acme/deploy.git", "path": "apps"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": health, "message": message},
            "operationState": {
                "phase": phase,
                "message": message,
                "operation": {"sync": {"revision": revision}},
                "startedAt": "2026-11-26T00:00:00Z",
            },
        },
    }


def workflow(
    name: str,
    namespace: str,
    platform: str,
    stream: str,
    model_commit: str,
    phase: str,
    message: str = "",
    outputs: dict[str, str] | None = None,
    started: str = "2026-11-26T00:01:00Z",
) -> dict[str, Any]:
    """An Argo Workflow started from a CronWorkflow, with its global output parameters."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "datasurface.io/platform": platform,
                "datasurface.io/stream": stream,
                "datasurface.io/model-commit": model_commit,
                "workflows.argoproj.io/cron-workflow": f"{platform.lower()}-{stream.lower()}",
            },
        },
        "spec": {"workflowTemplateRef": {"name": f"{platform.lower()}-snapshot-merge"}},
        "status": {
            "phase": phase,
            "startedAt": started,
            "message": message,
            "outputs": {"parameters": [{"name": k, "value": v} for k, v in (outputs or {}).items()]},
        },
    }


TEMPLATE_APPS = ("datasurface-root", "datasurface-yellowforensic", "datasurface-yellowlive")


def roll_out_template(api: KubeAPI, model_commit: str, deploy_commit: str, failing: str = "") -> None:
    """The template model's rollout as a cluster reports it: every Application synced to the
    deployment commit and healthy, and each stream's first run done (``failing``'s failed)."""
    for name in TEMPLATE_APPS:
        api.put("applications", application(name, deploy_commit))
    for platform in ("YellowLive", "YellowForensic"):
        phase = "Failed" if platform == failing else "Succeeded"
        api.put(
            "workflows",
            workflow(
                f"{platform.lower()}-store1-1",
                f"ds-{platform.lower()}",
                platform,
                "Store1",
                model_commit,
                phase,
                "merge: relation people does not exist" if phase == "Failed" else "",
                {"batch": "1", "inserted": "4", "updated": "0", "deleted": "0"},
            ),
        )
