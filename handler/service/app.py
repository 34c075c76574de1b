"""The HTTP face of the service: verify, acknowledge fast (202), queue the work durably
(``intake.py``); health, metrics and the pages (``pages.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from handler.service import pages
from handler.service.config import ServiceConfig
from handler.service.intake import WebhookIntake
from handler.service.logs import redact
from handler.service.metrics import Metrics
from handler.service.queue import JobQueue
from handler.service.vcs import VcsClient
from handler.service.worker import Worker


def create_app(
    config: ServiceConfig, vcs_factory: Callable[[int | None], VcsClient] | None = None, start_worker: bool = True
) -> FastAPI:
    config.work_dir.mkdir(parents=True, exist_ok=True)
    queue = JobQueue(config.state_url)
    metrics = Metrics()
    worker = Worker(config, queue, metrics, vcs_factory)
    secret = config.webhook_secret.get_secret_value().encode() if config.webhook_secret else b""
    redact(secret.decode(), config.github_token.get_secret_value() if config.github_token else "")
    intake = WebhookIntake(secret, set(config.allowed_repos), queue, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_worker:
            worker.start()
        yield
        worker.stop()
        queue.close()

    app = FastAPI(title="DataSurface merge handler", lifespan=lifespan)
    app.state.queue, app.state.worker, app.state.metrics = queue, worker, metrics

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        reply = await intake.receive(request.headers, request.stream())
        return JSONResponse(reply.body, status_code=reply.status)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        alive = sum(t.is_alive() for t in worker.threads)
        status = "ok" if alive == len(worker.threads) else "degraded"
        return {"status": status, "workers": alive, "queue_depth": queue.depth()}

    @app.get("/metrics")
    def prometheus() -> Response:
        metrics.queue_depth.set(queue.depth())
        metrics.oldest_job_age.set(queue.oldest_ready_age())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    def status_page() -> str:
        return pages.status_page(queue)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(job_id: int) -> HTMLResponse:
        job = queue.job(job_id)
        if job is None:
            return HTMLResponse(pages.page("No such job", f"<p>This service has no job {job_id}.</p>"), status_code=404)
        return HTMLResponse(pages.job_page(job))

    return app
