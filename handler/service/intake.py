"""Webhook intake: verify a delivery, parse it, and queue its job durably; nothing slower.

The HTTP app hands each request here and answers with the ``Reply``: 202 once the job (or the
ignored delivery) is written, 4xx for what GitHub should not have sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from handler.service import events
from handler.service.logs import delivery_id
from handler.service.queue import JobQueue
from handler.service.signature import verify
from handler.service.worker import Metrics

log = logging.getLogger("datasurface.service")
MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


@dataclass(frozen=True)
class Reply:
    status: int
    result: str  # the deliveries metric's label
    body: dict[str, Any]


class WebhookIntake:
    def __init__(self, secret: bytes, allowed_repos: set[str], queue: JobQueue, metrics: Metrics) -> None:
        self.secret, self.allowed, self.queue, self.metrics = secret, allowed_repos, queue, metrics

    def refuse_size(self, headers: Mapping[str, str]) -> Reply | None:
        """A body GitHub would never send is refused before it is read."""
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            return self._reply(headers, Reply(400, "bad-request", {"error": "Content-Length is not a number"}))
        if length > MAX_BODY:
            return self._reply(headers, Reply(413, "too-large", {"error": f"bodies over {MAX_BODY} bytes are refused"}))
        return None

    async def receive(self, headers: Mapping[str, str], body: bytes) -> Reply:
        delivery = headers.get("X-GitHub-Delivery", "")
        token = delivery_id.set(delivery or "-")
        try:
            return self._reply(headers, await self._handle(headers, body, delivery))
        finally:
            delivery_id.reset(token)

    async def _handle(self, headers: Mapping[str, str], body: bytes, delivery: str) -> Reply:
        event_name = headers.get("X-GitHub-Event", "")
        if not verify(self.secret, body, headers.get("X-Hub-Signature-256")):
            return Reply(401, "bad-signature", {"error": "missing or invalid X-Hub-Signature-256"})
        if not delivery or not event_name:
            return Reply(400, "bad-request", {"error": "X-GitHub-Event and X-GitHub-Delivery are required"})
        try:
            payload = msgspec.json.decode(body)
            repo = events.repository_of(payload)
        except (msgspec.DecodeError, AttributeError):
            return Reply(400, "bad-request", {"error": "the body is not a JSON object"})
        if repo not in self.allowed:
            return Reply(403, "forbidden-repo", {"error": f"repository {repo!r} is not served here"})
        try:
            parsed = events.parse(event_name, payload)
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, "bad-request", {"error": f"malformed {event_name} payload: missing {exc}"})
        if isinstance(parsed, events.Ignored):
            accepted = await asyncio.wrap_future(
                self.queue.submit(delivery, event_name, repo, f"ignored: {parsed.reason}")
            )
            return Reply(202, "ignored", {"status": "ignored", "reason": parsed.reason, "duplicate": not accepted})
        kind = "validate" if isinstance(parsed, events.PullRequestEvent) else "deploy"
        job_payload = {**events.to_dict(parsed), "installation": (payload.get("installation") or {}).get("id")}
        job = (kind, parsed.key, job_payload)
        accepted = await asyncio.wrap_future(self.queue.submit(delivery, event_name, repo, f"queued {kind}", job))
        if not accepted:
            return Reply(202, "duplicate", {"status": "duplicate", "delivery": delivery})
        self.metrics.queue_depth.inc()
        return Reply(202, "queued", {"status": "queued", "job": kind, "key": parsed.key})

    def _reply(self, headers: Mapping[str, str], reply: Reply) -> Reply:
        event = headers.get("X-GitHub-Event", "")
        self.metrics.deliveries.labels(event or "-", reply.result).inc()
        log.info("delivery %s", reply.result, extra={"event": event, "status": reply.status})
        return reply
