"""Worker threads: claim a job that is due, run its runner, record the outcome.

A failed job is classified (``failures.py``): a transient failure goes back to the queue with a
not-before time (GitHub's ``Retry-After`` or a backoff), so no worker sleeps on it and no other
worker takes it early; a permanent one, or one that keeps failing, ends with an error status in
words. When even that status cannot be written, a job to write it later is queued, so a pull
request always ends with a status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from handler.service import events
from handler.service.config import ServiceConfig
from handler.service.deploy_runner import deploy_merge
from handler.service.failures import backoff, classify
from handler.service.jobs import DEPLOY_CONTEXT, ROLLOUT_CONTEXT, VALIDATE_CONTEXT, JobContext, RunResult
from handler.service.logs import delivery_id, scrub
from handler.service.metrics import Metrics
from handler.service.queue import DONE, FAILED, Job, JobQueue
from handler.service.rollout_runner import follow_rollout
from handler.service.validation_runner import (
    revalidate_open_pulls,
    run_command,
    validate_merge_group,
    validate_pull_request,
)
from handler.service.vcs import GitHubClient, VcsClient

log = logging.getLogger("datasurface.service")
MAX_ATTEMPTS = 6  # with the backoff, about five minutes of a GitHub outage
STATUS_ATTEMPTS = 20  # writing a final status is retried longer: a pull request must end with one


def _report_status(payload: dict[str, Any], ctx: JobContext) -> RunResult:
    ctx.vcs.set_status(
        payload["repo"],
        payload["sha"],
        payload["context"],
        payload["state"],
        payload["description"],
        payload.get("target_url"),
    )
    return RunResult("done", f"reported {payload['state']} on {payload['sha'][:12]}")


class Worker:
    def __init__(
        self,
        config: ServiceConfig,
        queue: JobQueue,
        metrics: Metrics,
        vcs_factory: Callable[[int | None], VcsClient] | None = None,
    ) -> None:
        self.config = config
        self.queue = queue
        self.metrics = metrics
        self.vcs_factory = vcs_factory or (lambda installation: GitHubClient(config, installation))
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        recovered = self.queue.recover()
        if recovered:
            log.info("requeued jobs left running by a previous process", extra={"jobs": recovered})
        for n in range(self.config.workers):
            thread = threading.Thread(target=self._loop, name=f"datasurface-worker-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 30) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            job = self.queue.claim()
            if job is None:
                self.stop_event.wait(0.1)
                continue
            self.run(job)

    def run(self, job: Job) -> None:
        token = delivery_id.set(job.delivery_id)
        try:
            payload = dict(job.payload)
            installation = payload.pop("installation", None)
            log.info("job started", extra={"job": job.id, "kind": job.kind, "key": job.key, "attempt": job.attempts})
            vcs = self.vcs_factory(installation)
            ctx = JobContext(
                self.config,
                vcs,
                self.metrics.observe,
                self.queue,
                self.config.job_url(job.id),
                job.attempts,
                installation,
            )
            try:
                result = self._dispatch(job.kind, payload, ctx)
            except Exception as exc:  # noqa: BLE001 - a job must never kill its worker
                self._failed(job, payload, ctx, exc)
                return
            self.queue.finish(job, DONE if result.status == "done" else FAILED, result.summary, result.report)
            self.metrics.jobs.labels(job.kind, result.status).inc()
            log.info("job finished", extra={"job": job.id, "result": result.summary})
        finally:
            delivery_id.reset(token)

    def _dispatch(self, kind: str, payload: dict[str, Any], ctx: JobContext) -> RunResult:
        if kind == "status":
            return _report_status(payload, ctx)
        if kind == "rollout":
            return follow_rollout(payload, ctx)
        event = events.from_dict(payload)
        if isinstance(event, events.PullRequestEvent):
            return validate_pull_request(event, ctx)
        if isinstance(event, events.PushEvent):
            return deploy_merge(event, ctx)
        if isinstance(event, events.MergeGroupEvent):
            return validate_merge_group(event, ctx)
        if isinstance(event, events.CommandEvent):
            return run_command(event, ctx)
        return revalidate_open_pulls(event, ctx)

    def _failed(self, job: Job, payload: dict[str, Any], ctx: JobContext, exc: Exception) -> None:
        failure = classify(exc)
        limit = STATUS_ATTEMPTS if job.kind == "status" else MAX_ATTEMPTS
        if failure.transient and job.attempts < limit and not self.stop_event.is_set():
            wait = backoff(job.attempts, failure)
            log.warning("job failed, retrying", extra={"job": job.id, "in_seconds": wait, "reason": failure.message})
            self.queue.retry_later(
                job, scrub(f"attempt {job.attempts}: {failure.message}; retrying"), time.time() + wait
            )
            return
        log.error("job failed", extra={"job": job.id, "reason": failure.message}, exc_info=exc)
        self.queue.finish(job, FAILED, scrub(f"failed after {job.attempts} attempts: {failure.message}"))
        self.metrics.jobs.labels(job.kind, FAILED).inc()
        if job.kind != "status":
            self._report_error(job.kind, payload, ctx, scrub(failure.message))

    def _report_error(self, kind: str, payload: dict[str, Any], ctx: JobContext, message: str) -> None:
        """The final error status; if GitHub refuses even that now, a job writes it later."""
        event = None if kind == "rollout" else events.from_dict(payload)
        report: dict[str, Any]
        if kind == "rollout":
            report = {
                "repo": payload["repo"],
                "sha": payload["sha"],
                "context": ROLLOUT_CONTEXT,
                "description": f"DataSurface could not follow the rollout: {message}",
            }
        elif isinstance(event, events.PullRequestEvent | events.MergeGroupEvent):
            report = {
                "repo": event.repo,
                "sha": event.head_sha,
                "context": VALIDATE_CONTEXT,
                "description": f"DataSurface could not validate: {message}",
            }
        elif isinstance(event, events.PushEvent):
            report = {
                "repo": event.repo,
                "sha": event.sha,
                "context": DEPLOY_CONTEXT,
                "description": f"DataSurface could not deploy: {message}",
            }
        else:
            return  # a command or a re-validation has no commit of its own to mark
        report["state"], report["description"] = "error", report["description"][:140]
        if ctx.target_url:
            report["target_url"] = ctx.target_url
        try:
            _report_status(report, ctx)
        except Exception as exc:
            failure = classify(exc)
            if failure.transient:
                when = time.time() + backoff(1, failure)
                self.queue.enqueue("status", f"status:{report['repo']}@{report['sha']}", report, not_before=when)
            else:
                log.exception("could not report the failure", extra={"reason": failure.message})
