"""What a failed job means: retry (when, honouring GitHub's ``Retry-After`` and rate-limit reset)
or give up, and what to tell a person, in words rather than raw JSON."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import git
import requests
from github import GithubException, RateLimitExceededException
from github.GithubException import RateLimitExceededExceedsMaxWait

MAX_BACKOFF = 300.0  # seconds


@dataclass(frozen=True)
class Failure:
    transient: bool  # may succeed later
    message: str  # for a status description or a job page: what happened, for a person
    retry_after: float | None = None  # seconds GitHub asked to wait, when it said so


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, (RateLimitExceededException, RateLimitExceededExceedsMaxWait)):
        return Failure(True, "GitHub's rate limit was reached; DataSurface retries when it resets", _wait(exc))
    if isinstance(exc, GithubException):
        return _github(exc)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
        return Failure(True, "GitHub could not be reached")
    if isinstance(exc, git.GitCommandError):
        return Failure(True, f"git {exc.command[1] if len(exc.command) > 1 else ''} failed (exit {exc.status})")
    return Failure(True, f"{type(exc).__name__}: {exc}")


def backoff(attempt: int, failure: Failure) -> float:
    """Seconds before attempt ``attempt + 1``: what GitHub asked for, else exponential from 5 s."""
    base = min(MAX_BACKOFF, 5.0 * 2.0 ** max(0, attempt - 1))
    return float(max(base, failure.retry_after or 0.0))


def _github(exc: GithubException) -> Failure:
    message = _message(exc.data)
    if exc.status == 404:
        return Failure(False, "GitHub answered 404 Not Found: the pull request, commit or repository no longer exists")
    if exc.status == 403 and ("rate limit" in message.lower() or _header(exc, "retry-after")):
        return Failure(True, "GitHub's secondary rate limit was reached; DataSurface retries later", _wait(exc))
    if exc.status >= 500:
        return Failure(True, f"GitHub answered {exc.status} (a GitHub error); DataSurface retries")
    return Failure(False, f"GitHub answered {exc.status}: {message}" if message else f"GitHub answered {exc.status}")


def _message(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message") or "")[:100]
    return str(data or "")[:100]


def _header(exc: GithubException, name: str) -> str | None:
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    return headers.get(name)


def _wait(exc: BaseException) -> float | None:
    """Seconds to wait from ``Retry-After`` or ``x-ratelimit-reset`` (epoch seconds)."""
    if not isinstance(exc, GithubException):
        return None
    retry_after = _header(exc, "retry-after")
    if retry_after and retry_after.isdigit():
        return float(retry_after)
    reset = _header(exc, "x-ratelimit-reset")
    if reset and reset.isdigit():
        return max(0.0, float(reset) - time.time())
    return None
