"""Failure notification of a workflow run: a Slack-compatible JSON message to a webhook URL.

The exit handler of every rendered workflow runs ``datasurface job notify``; the URL comes from
an optional Kubernetes secret as ``DATASURFACE_NOTIFY_URL``. Without it nothing is sent, and a
failing webhook never fails the run: a notification must not turn one failure into two.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

URL_ENV = "DATASURFACE_NOTIFY_URL"


def failure_message(platform: str, stream: str, batch: str, status: str, failures: str, link: str) -> dict[str, str]:
    error = _first_failure(failures)
    lines = [
        f":red_circle: DataSurface run {status.lower()}: platform *{platform}*, stream *{stream}*"
        + (f", batch {batch}" if batch else ""),
        f"Error: {error}" if error else "Error: see the run",
        f"Run: {link}",
    ]
    return {"text": "\n".join(lines)}


def _first_failure(failures: str) -> str:
    """Argo's ``{{workflow.failures}}`` is a JSON list of {displayName, message, ...}."""
    try:
        items = json.loads(failures)
    except (ValueError, TypeError):
        return failures.strip()[:500]
    if isinstance(items, list) and items and isinstance(items[0], dict):
        first = items[0]
        return f"{first.get('displayName', '')}: {first.get('message', '')}".strip(": ")[:500]
    return ""


def send(payload: dict[str, str], url: str | None = None, timeout: float = 10.0) -> str:
    """Post the message; returns what happened, never raises."""
    url = url if url is not None else os.environ.get(URL_ENV, "")
    if not url:
        return f"no {URL_ENV}: notification skipped"
    if not url.startswith(("https://", "http://")):
        return f"{URL_ENV} is not an http(s) URL: notification skipped"
    request = urllib.request.Request(  # noqa: S310 - only http(s), checked above
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - operator-provided URL
            return f"notified ({response.status})"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"notification failed: {exc}"
