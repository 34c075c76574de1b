"""The service's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
