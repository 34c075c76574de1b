"""Webhook intake: verify a delivery, parse it, and queue its job durably; nothing slower.

The HTTP app hands each request here and answers with the ``Reply``: 202 once the job (or the
ignored delivery) is written, 4xx for what GitHub would not send. The body is read with a cap
while it streams (chunked bodies too), so an oversized one is refused before it is buffered
and before the signature check; no metric series is created from a value the sender chose.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from handler.service import events
from handler.service.logs import delivery_id
from handler.service.metrics import Metrics
from handler.service.queue import JobQueue
from handler.service.signature import verify

log = logging.getLogger("datasurface.service")
MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
MAX_DELIVERY_ID = 100


@dataclass(frozen=True)
class Reply:
    status: int
    result: str  # the deliveries metric's label
    body: dict[str, Any]


class BodyTooLargeError(Exception):
    pass


async def read_capped(stream: AsyncIterator[bytes], limit: int = MAX_BODY) -> bytes:
    """The whole body, or BodyTooLargeError as soon as more than ``limit`` bytes have arrived."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookIntake:
    def __init__(self, secret: bytes, allowed_repos: set[str], queue: JobQueue, metrics: Metrics) -> None:
        self.secret, self.allowed, self.queue, self.metrics = secret, allowed_repos, queue, metrics

    async def receive(self, headers: Mapping[str, str], stream: AsyncIterator[bytes]) -> Reply:
        delivery = headers.get("X-GitHub-Delivery", "")
        token = delivery_id.set(delivery[:MAX_DELIVERY_ID] or "-")
        try:
            return self._reply(headers, await self._handle(headers, stream, delivery))
        finally:
            delivery_id.reset(token)

    async def _handle(self, headers: Mapping[str, str], stream: AsyncIterator[bytes], delivery: str) -> Reply:
        try:
            declared = int(headers.get("content-length") or 0)
        except ValueError:
            return Reply(400, "bad-request", {"error": "Content-Length is not a number"})
        if declared > MAX_BODY:
            return _too_large()
        try:
            body = await read_capped(stream)
        except BodyTooLargeError:
            return _too_large()
        event_name = headers.get("X-GitHub-Event", "")
        if not verify(self.secret, body, headers.get("X-Hub-Signature-256")):
            return Reply(401, "bad-signature", {"error": "missing or invalid X-Hub-Signature-256"})
        if not delivery or not event_name or len(delivery) > MAX_DELIVERY_ID:
            return Reply(400, "bad-request", {"error": "X-GitHub-Event and X-GitHub-Delivery are required"})
        try:
            repo = events.repository_of(body)
            if repo not in self.allowed:
                return Reply(403, "forbidden-repo", {"error": f"repository {repo[:200]!r} is not served here"})
            parsed = events.parse(event_name, body)
            installation = events.installation_of(body)
        except events.PayloadError as exc:
            return Reply(400, "bad-request", {"error": f"malformed {event_name[:100]} payload: {str(exc)[:500]}"})
        if isinstance(parsed, events.Ignored):
            submitted = self.queue.submit(delivery, event_name[:50], repo, f"ignored: {parsed.reason}"[:200])
            accepted = await asyncio.wrap_future(submitted)
            return Reply(202, "ignored", {"status": "ignored", "reason": parsed.reason, "duplicate": not accepted})
        jobs = [
            (kind, event.key, {**events.to_dict(event), "installation": installation})
            for kind, event in _jobs_of(parsed)
        ]
        kind = jobs[0][0]
        accepted = await asyncio.wrap_future(self.queue.submit(delivery, event_name[:50], repo, f"queued {kind}", jobs))
        if not accepted:
            return Reply(202, "duplicate", {"status": "duplicate", "delivery": delivery})
        self.metrics.queue_depth.inc(len(jobs))
        return Reply(202, "queued", {"status": "queued", "job": kind, "key": parsed.key})

    def _reply(self, headers: Mapping[str, str], reply: Reply) -> Reply:
        event = events.event_label(headers.get("X-GitHub-Event", ""))
        self.metrics.deliveries.labels(event, reply.result).inc()
        log.info("delivery %s", reply.result, extra={"event": event, "status": reply.status})
        return reply


def _jobs_of(
    event: events.PullRequestEvent | events.PushEvent | events.MergeGroupEvent | events.CommandEvent,
) -> list[tuple[str, events.JobEvent]]:
    """The jobs a delivery queues: a push to the default branch is deployed, and makes every open
    pull request's verdict stale, so those are validated again."""
    if isinstance(event, events.PullRequestEvent):
        return [("validate", event)]
    if isinstance(event, events.MergeGroupEvent):
        return [("merge_group", event)]
    if isinstance(event, events.CommandEvent):
        return [("command", event)]
    revalidate = events.RevalidateEvent(event.repo, event.branch, event.sha, event.clone_url)
    return [("deploy", event), ("revalidate", revalidate)]


def _too_large() -> Reply:
    return Reply(413, "too-large", {"error": f"bodies over {MAX_BODY} bytes are refused"})
