"""Runs through the Argo Server API, with its official client (``argo-workflows``): list a
stream's recent runs, submit one now from its CronWorkflow, follow it.

The Argo Server answers with the Workflow objects themselves; they are read as plain JSON
(``run_state``), the same reading the Kubernetes backend uses, so that a field the client's
generated models do not know never breaks a listing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from handler.rollout.backend import run_state
from handler.rollout.model import ExpectedStream, RunState

FINISHED_PHASES = frozenset({"Succeeded", "Failed", "Error"})


class ArgoServerError(Exception):
    """The Argo Server refused a request: its status and message, as it said them."""


class ArgoServer:
    def __init__(self, url: str, token: str | None = None, verify_tls: bool = True) -> None:
        import argo_workflows
        from argo_workflows.api import workflow_service_api

        config = argo_workflows.Configuration(host=url.rstrip("/"))
        config.verify_ssl = verify_tls
        if token:
            # ``argo auth token`` prints "Bearer <token>"; accept it with or without the prefix.
            config.api_key["BearerToken"] = token.strip().removeprefix("Bearer ").strip()
            config.api_key_prefix["BearerToken"] = "Bearer"
        self.api: Any = workflow_service_api.WorkflowServiceApi(argo_workflows.ApiClient(config))

    def _call(self, method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from argo_workflows.exceptions import ApiException

        try:
            response = getattr(self.api, method)(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise ArgoServerError(f"Argo Server answered {exc.status}: {_message(exc.body)}") from None
        return dict(json.loads(response.data))

    def runs(self, stream: ExpectedStream, limit: int) -> list[RunState]:
        """The stream's runs, newest first (Workflows labelled with its platform and stream)."""
        selector = f"datasurface.io/platform={stream.platform},datasurface.io/stream={stream.stream}"
        listing = self._call(
            "list_workflows", stream.namespace, list_options_label_selector=selector, list_options_limit=str(limit)
        )
        runs = [run_state(item) for item in listing.get("items") or []]
        return sorted(runs, key=lambda r: (r.started_at, r.name), reverse=True)[:limit]

    def run(self, namespace: str, name: str) -> RunState:
        return run_state(self._call("get_workflow", namespace, name))

    def submit(self, stream: ExpectedStream) -> RunState:
        """A run of the stream now, from its CronWorkflow (the Argo Server's submit API)."""
        from argo_workflows.model.io_argoproj_workflow_v1alpha1_submit_opts import IoArgoprojWorkflowV1alpha1SubmitOpts
        from argo_workflows.model.io_argoproj_workflow_v1alpha1_workflow_submit_request import (
            IoArgoprojWorkflowV1alpha1WorkflowSubmitRequest,
        )

        body = IoArgoprojWorkflowV1alpha1WorkflowSubmitRequest(
            namespace=stream.namespace,
            resource_kind="cronworkflow",
            resource_name=stream.cron,
            submit_options=IoArgoprojWorkflowV1alpha1SubmitOpts(labels="datasurface.io/submitted-by=datasurface-rerun"),
        )
        return run_state(self._call("submit_workflow", stream.namespace, body))

    def wait(
        self,
        run: RunState,
        timeout: float,
        poll: float = 5.0,
        on_change: Callable[[RunState], None] = lambda run: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RunState:
        """Follow a run until it finished or ``timeout`` passed (then as it is)."""
        deadline = time.monotonic() + timeout
        while run.phase not in FINISHED_PHASES and time.monotonic() < deadline:
            sleep(min(poll, max(0.0, deadline - time.monotonic())))
            latest = self.run(run.namespace, run.name)
            if latest.phase != run.phase:
                on_change(latest)
            run = latest
        return run


def _message(body: Any) -> str:
    """The message of a grpc-gateway error body (``{"code": 5, "message": "..."}``)."""
    try:
        return str(json.loads(body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(body or "no message")[:300]
