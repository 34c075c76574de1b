"""The service's own Prometheus metrics (documented in docs/operations.md; alerting rules in
k8s/handler/prometheusrule.yaml)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Job kinds and results, created at zero so that the first failure is an increase, not a new series.
JOB_KINDS = ("validate", "revalidate", "merge_group", "command", "deploy", "rollout", "status")
JOB_STATUSES = ("done", "failed")


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
        self.oldest_job_age = Gauge(
            "datasurface_queue_oldest_job_age_seconds",
            "How long the oldest job that could run now has waited (0 when none)",
            registry=self.registry,
        )
        self.durations = Histogram(
            "datasurface_job_seconds",
            "Validation and deploy durations, and rollouts from deploy to settled",
            ["kind"],
            registry=self.registry,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
        )
        self.jobs = Counter(
            "datasurface_jobs", "Jobs finished by kind and status", ["kind", "status"], registry=self.registry
        )
        for kind in JOB_KINDS:
            for status in JOB_STATUSES:
                self.jobs.labels(kind, status)

    def observe(self, kind: str, seconds: float) -> None:
        self.durations.labels(kind).observe(seconds)
