"""A local stand-in for the Argo Server API (``/api/v1/workflows``), as its OpenAPI spec and the
server document it: list with ``listOptions.labelSelector`` and ``listOptions.limit`` (``items``
is null when there are none), get, and submit from a CronWorkflow (``resourceKind:
cronworkflow``: a Workflow named after the CronWorkflow, with its ``workflowMetadata`` labels);
errors are grpc-gateway bodies (``{"code": 5, "message": ...}``) with their HTTP status; a
request without the bearer token gets 401. Reached by the real ``argo-workflows`` client."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support.kube_api import workflow


@dataclass
class ArgoServerStandIn:
    crons: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (namespace, name) -> CronWorkflow
    workflows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    token: str = "test-argo-token"
    #: How many reads a submitted run stays Running before it ends with ``finish_phase``.
    finish_after: int = 2
    finish_phase: str = "Succeeded"
    lock: threading.Lock = field(default_factory=threading.Lock)
    reads: dict[tuple[str, str], int] = field(default_factory=dict)

    def add_cron(self, cron: dict[str, Any]) -> None:
        self.crons[(cron["metadata"]["namespace"], cron["metadata"]["name"])] = cron

    def put(self, obj: dict[str, Any]) -> None:
        with self.lock:
            self.workflows[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj

    def app(self) -> FastAPI:
        app = FastAPI()

        def error(status: int, code: int, message: str) -> JSONResponse:
            return JSONResponse({"code": code, "message": message}, status_code=status)

        def unauthorized(request: Request) -> JSONResponse | None:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return error(401, 16, "token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/")
            return None

        @app.get("/api/v1/workflows/{namespace}")
        def list_workflows(namespace: str, request: Request) -> JSONResponse:
            if (denied := unauthorized(request)) is not None:
                return denied
            selector = dict(
                part.split("=", 1)
                for part in request.query_params.get("listOptions.labelSelector", "").split(",")
                if "=" in part
            )
            limit = int(request.query_params.get("listOptions.limit") or 0)
            with self.lock:
                items = [
                    w
                    for (ns, _), w in self.workflows.items()
                    if ns == namespace
                    and all((w["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                ]
            items.sort(key=lambda w: w["status"].get("startedAt") or "", reverse=True)
            body: dict[str, Any] = {
                "metadata": {"resourceVersion": "1"},
                "items": (items[:limit] if limit else items) or None,
            }
            return JSONResponse(body)

        @app.get("/api/v1/workflows/{namespace}/{name}")
        def get_workflow(namespace: str, name: str, request: Request) -> JSONResponse:
            if (denied := unauthorized(request)) is not None:
                return denied
            with self.lock:
                found = self.workflows.get((namespace, name))
                if found is None:
                    return error(404, 5, f'workflows.argoproj.io "{name}" not found')
                reads = self.reads[(namespace, name)] = self.reads.get((namespace, name), 0) + 1
                if reads >= self.finish_after and found["status"].get("phase") == "Running":
                    found["status"]["phase"] = self.finish_phase
                    found["status"]["finishedAt"] = "2026-11-26T00:05:00Z"
            return JSONResponse(found)

        @app.post("/api/v1/workflows/{namespace}/submit")
        async def submit(namespace: str, request: Request) -> JSONResponse:
            if (denied := unauthorized(request)) is not None:
                return denied
            body = await request.json()
            if body.get("resourceKind", "").lower() != "cronworkflow":
                return error(400, 3, f"resourceKind {body.get('resourceKind')!r} is not supported")
            cron = self.crons.get((namespace, body.get("resourceName", "")))
            if cron is None:
                return error(404, 5, f'cronworkflows.argoproj.io "{body.get("resourceName")}" not found')
            labels = dict(cron["spec"]["workflowMetadata"]["labels"])
            extra = (body.get("submitOptions") or {}).get("labels") or ""
            labels.update(dict(p.split("=", 1) for p in extra.split(",") if "=" in p))
            name = f"{cron['metadata']['name']}-{secrets.token_hex(3)}"
            run = workflow(
                name,
                namespace,
                labels["datasurface.io/platform"],
                labels["datasurface.io/stream"],
                labels.get("datasurface.io/model-commit", ""),
                "Running",
                started="2026-11-26T00:04:00Z",
            )
            run["metadata"]["labels"] = {**labels, "workflows.argoproj.io/cron-workflow": cron["metadata"]["name"]}
            self.put(run)
            return JSONResponse(run)

        return app
