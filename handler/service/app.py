"""The HTTP face of the service: verify, acknowledge fast (202), queue the work durably."""

from __future__ import annotations

import asyncio
import html
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional

import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from handler.service import events
from handler.service.config import ServiceConfig
from handler.service.logs import delivery_id, redact
from handler.service.queue import JobQueue
from handler.service.signature import verify
from handler.service.vcs import VcsClient
from handler.service.worker import Metrics, Worker

log = logging.getLogger("datasurface.service")
MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


def create_app(config: ServiceConfig, vcs_factory: Optional[Callable[[Optional[int]], VcsClient]] = None, start_worker: bool = True) -> FastAPI:
    config.work_dir.mkdir(parents=True, exist_ok=True)
    queue = JobQueue(config.state_url)
    metrics = Metrics()
    worker = Worker(config, queue, metrics, vcs_factory)
    secret = config.webhook_secret.get_secret_value().encode() if config.webhook_secret else b""
    redact(secret.decode(), config.github_token.get_secret_value() if config.github_token else "")
    allowed = set(config.allowed_repos)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_worker:
            worker.start()
        yield
        worker.stop()
        queue.close()

    app = FastAPI(title="DataSurface merge handler", lifespan=lifespan)
    app.state.queue, app.state.worker, app.state.metrics = queue, worker, metrics

    def reply(status: int, event: str, result: str, body: dict[str, Any]) -> JSONResponse:
        metrics.deliveries.labels(event or "-", result).inc()
        log.info("delivery %s", result, extra={"event": event, "status": status})
        return JSONResponse(body, status_code=status)

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        event_name = request.headers.get("X-GitHub-Event", "")
        if int(request.headers.get("content-length") or 0) > MAX_BODY:  # refused before it is read
            return reply(413, event_name, "too-large", {"error": f"bodies over {MAX_BODY} bytes are refused"})
        body = await request.body()
        delivery = request.headers.get("X-GitHub-Delivery", "")
        token = delivery_id.set(delivery or "-")
        try:
            if not verify(secret, body, request.headers.get("X-Hub-Signature-256")):
                return reply(401, event_name, "bad-signature", {"error": "missing or invalid X-Hub-Signature-256"})
            if not delivery or not event_name:
                return reply(400, event_name, "bad-request", {"error": "X-GitHub-Event and X-GitHub-Delivery are required"})
            try:
                payload = msgspec.json.decode(body)
                repo = events.repository_of(payload)
            except (msgspec.DecodeError, AttributeError):
                return reply(400, event_name, "bad-request", {"error": "the body is not a JSON object"})
            if repo not in allowed:
                return reply(403, event_name, "forbidden-repo", {"error": f"repository {repo!r} is not served here"})
            try:
                parsed = events.parse(event_name, payload)
            except (KeyError, TypeError, ValueError) as exc:
                return reply(400, event_name, "bad-request", {"error": f"malformed {event_name} payload: missing {exc}"})
            if isinstance(parsed, events.Ignored):
                accepted = await asyncio.wrap_future(queue.submit(delivery, event_name, repo, f"ignored: {parsed.reason}"))
                return reply(202, event_name, "ignored", {"status": "ignored", "reason": parsed.reason, "duplicate": not accepted})
            kind = "validate" if isinstance(parsed, events.PullRequestEvent) else "deploy"
            job_payload = {**events.to_dict(parsed), "installation": (payload.get("installation") or {}).get("id")}
            accepted = await asyncio.wrap_future(queue.submit(delivery, event_name, repo, f"queued {kind}", (kind, parsed.key, job_payload)))
            if not accepted:
                return reply(202, event_name, "duplicate", {"status": "duplicate", "delivery": delivery})
            metrics.queue_depth.inc()
            return reply(202, event_name, "queued", {"status": "queued", "job": kind, "key": parsed.key})
        finally:
            delivery_id.reset(token)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        alive = sum(t.is_alive() for t in worker.threads)
        return {"status": "ok" if alive == len(worker.threads) else "degraded", "workers": alive, "queue_depth": queue.depth()}

    @app.get("/metrics")
    def prometheus() -> Response:
        metrics.queue_depth.set(queue.depth())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    def status_page() -> str:
        return _status_page(queue)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(job_id: int) -> HTMLResponse:
        job = queue.job(job_id)
        if job is None:
            return HTMLResponse(_page("No such job", f"<p>This service has no job {job_id}.</p>"), status_code=404)
        return HTMLResponse(_job_page(job))

    return app


_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:90%}pre{white-space:pre-wrap}"
)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _job_page(job: dict[str, Any]) -> str:
    """One job: what it was for, where it stands, and its report (the comment's Markdown, as text)."""
    updated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(job["updated_at"]))
    facts = "".join(
        f"<tr><th>{name}</th><td>{html.escape(str(value))}</td></tr>"
        for name, value in (("job", job["id"]), ("for", job["key"]), ("kind", job["kind"]), ("status", job["status"]),
                            ("attempts", job["attempts"]), ("updated", updated), ("result", job["result"] or ""))
    )
    report = f"<h2>Report</h2><pre>{html.escape(job['report'])}</pre>" if job.get("report") else ""
    still = "<p>Still running: reload this page for the outcome.</p>" if job["status"] in ("queued", "running") else ""
    return _page(f"DataSurface job {job['id']}", f"<h1>DataSurface job {job['id']}</h1><table>{facts}</table>{still}{report}")


def _status_page(queue: JobQueue) -> str:
    def rows(items: list[dict[str, Any]], columns: list[str]) -> str:
        out = []
        for item in items:
            cells = []
            for c in columns:
                value = item.get(c)
                if c.endswith("_at") and isinstance(value, float):
                    value = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value))
                shown = html.escape(str(value if value is not None else ""))
                cells.append(f'<td><a href="jobs/{shown}">{shown}</a></td>' if c == "id" else f"<td>{shown}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        return f"<table><tr>{header}</tr>{''.join(out)}</table>"

    jobs = queue.recent_jobs()
    validations = [j for j in jobs if j["kind"] == "validate"]
    deployments = [j for j in jobs if j["kind"] == "deploy"]
    job_columns = ["id", "key", "status", "attempts", "updated_at", "result"]
    return _page("DataSurface merge handler", (
        f"<h1>DataSurface merge handler</h1><p>Queue depth: {queue.depth()}</p>"
        f"<h2>Deployments</h2>{rows(deployments, job_columns)}"
        f"<h2>Validations</h2>{rows(validations, job_columns)}"
        f"<h2>Recent deliveries</h2>{rows(queue.recent_deliveries(), ['delivery_id', 'event', 'repo', 'received_at', 'outcome'])}"
    ))
