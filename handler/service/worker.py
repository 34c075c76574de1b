"""Worker threads: claim a job, run its runner, record the outcome; retry failures a few times."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from handler.service import events
from handler.service.config import ServiceConfig
from handler.service.logs import delivery_id, scrub
from handler.service.queue import DONE, FAILED, QUEUED, Job, JobQueue
from handler.service.runners import (
    DEPLOY_CONTEXT,
    VALIDATE_CONTEXT,
    JobContext,
    RunResult,
    deploy_merge,
    validate_pull_request,
)
from handler.service.vcs import GitHubClient, VcsClient

log = logging.getLogger("datasurface.service")
MAX_ATTEMPTS = 3


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "datasurface_webhook_deliveries",
            "Webhook deliveries by event and result",
            ["event", "result"],
            registry=self.registry,
        )
        self.queue_depth = Gauge("datasurface_queue_depth", "Jobs queued or running", registry=self.registry)
        self.durations = Histogram(
            "datasurface_job_seconds",
            "Validation and deploy durations",
            ["kind"],
            registry=self.registry,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300),
        )
        self.jobs = Counter(
            "datasurface_jobs", "Jobs finished by kind and status", ["kind", "status"], registry=self.registry
        )

    def observe(self, kind: str, seconds: float) -> None:
        self.durations.labels(kind).observe(seconds)


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
            event = events.from_dict(payload)
            log.info("job started", extra={"job": job.id, "kind": job.kind, "key": job.key, "attempt": job.attempts})
            vcs = self.vcs_factory(installation)
            ctx = JobContext(self.config, vcs, self.metrics.observe, self.queue, self.config.job_url(job.id))
            try:
                if isinstance(event, events.PullRequestEvent):
                    result: RunResult = validate_pull_request(event, ctx)
                else:
                    result = deploy_merge(event, ctx)
            except Exception as exc:
                log.exception("job failed", extra={"job": job.id})
                if job.attempts < MAX_ATTEMPTS and not self.stop_event.is_set():
                    self.queue.finish(job, QUEUED, scrub(f"attempt {job.attempts} failed: {exc}"))
                    self.stop_event.wait(min(30, 2**job.attempts))
                    return
                self.queue.finish(job, FAILED, scrub(f"failed after {job.attempts} attempts: {exc}"))
                self.metrics.jobs.labels(job.kind, FAILED).inc()
                self._report_error(vcs, event, scrub(str(exc)), ctx.target_url)
                return
            self.queue.finish(job, DONE if result.status == "done" else FAILED, result.summary, result.report)
            self.metrics.jobs.labels(job.kind, result.status).inc()
            log.info("job finished", extra={"job": job.id, "result": result.summary})
        finally:
            delivery_id.reset(token)

    @staticmethod
    def _report_error(vcs: VcsClient, event: object, message: str, target_url: str | None) -> None:
        try:
            if isinstance(event, events.PullRequestEvent):
                vcs.set_status(
                    event.repo,
                    event.head_sha,
                    VALIDATE_CONTEXT,
                    "error",
                    f"DataSurface could not validate: {message}",
                    target_url,
                )
            elif isinstance(event, events.PushEvent):
                vcs.set_status(
                    event.repo,
                    event.sha,
                    DEPLOY_CONTEXT,
                    "error",
                    f"DataSurface could not deploy: {message}",
                    target_url,
                )
        except Exception:
            log.exception("could not report the failure")
