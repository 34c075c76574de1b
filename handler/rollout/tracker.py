"""Following a rollout until it settles or its time is up."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from handler.rollout.backend import RolloutBackend
from handler.rollout.expected import expected_rollout
from handler.rollout.judge import judge
from handler.rollout.model import RolloutReport


def check_rollout(
    backend: RolloutBackend, tree: Path, model_commit: str, deploy_commit: str, timed_out: bool = False
) -> RolloutReport:
    """One look at the rollout of ``deploy_commit`` (the tree it holds is ``tree``)."""
    apps, streams = expected_rollout(tree)
    return judge(
        model_commit,
        deploy_commit,
        apps,
        backend.applications(apps),
        streams,
        backend.runs([s.namespace for s in streams], model_commit),
        timed_out,
    )


def track_rollout(
    backend: RolloutBackend,
    tree: Path,
    model_commit: str,
    deploy_commit: str,
    timeout: float,
    poll: float = 10.0,
    on_progress: Callable[[RolloutReport], None] = lambda report: None,
    sleep: Callable[[float], None] = time.sleep,
) -> RolloutReport:
    """Look every ``poll`` seconds until the rollout succeeds or fails, or ``timeout`` passes;
    ``on_progress`` sees every report whose reason changed."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        report = check_rollout(backend, tree, model_commit, deploy_commit, timed_out=time.monotonic() >= deadline)
        if report.reason != last:
            on_progress(report)
            last = report.reason
        if report.verdict != "pending":
            return report
        sleep(min(poll, max(0.0, deadline - time.monotonic())))
