"""What a rollout is made of, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["pending", "success", "failure"]


@dataclass(frozen=True)
class ExpectedStream:
    """A stream the deployment runs: its CronWorkflow, where, and for which platform."""

    platform: str
    stream: str
    namespace: str
    cron: str


@dataclass(frozen=True)
class AppState:
    """An Argo CD Application, as its status reports it."""

    name: str
    sync_status: str  # Synced | OutOfSync | Unknown
    revision: str  # status.sync.revision
    health: str  # Healthy | Progressing | Degraded | Missing | Suspended | Unknown
    operation_phase: str = ""  # status.operationState.phase: Running | Succeeded | Failed | Error
    message: str = ""


@dataclass(frozen=True)
class RunState:
    """A Workflow started from a stream's CronWorkflow."""

    name: str
    namespace: str
    platform: str
    stream: str
    model_commit: str
    phase: str  # Pending | Running | Succeeded | Failed | Error
    started_at: str = ""
    finished_at: str = ""
    message: str = ""
    outputs: dict[str, str] = field(default_factory=dict)  # batch, inserted, updated, deleted


@dataclass(frozen=True)
class StreamRollout:
    expected: ExpectedStream
    run: RunState | None


@dataclass(frozen=True)
class RolloutReport:
    model_commit: str
    deploy_commit: str
    verdict: Verdict
    reason: str
    apps: list[AppState]
    streams: list[StreamRollout]
