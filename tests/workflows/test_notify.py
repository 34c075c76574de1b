"""Failure notifications (``workflows/notify.py``, ``datasurface job notify``): a Slack-compatible
message, and never a failing step."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from tests.support.cli import run_cli
from workflows import notify


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.received = []
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_failure_notification_posts_a_slack_message(webhook: str) -> None:
    failures = json.dumps([{"displayName": "merge", "message": "relation customers does not exist"}])
    message = notify.failure_message(
        "YellowLive", "Store1", "42", "Failed", failures, "https://argo/workflows/ns/run-1"
    )
    assert notify.send(message, webhook) == "notified (200)"
    text = _Recorder.received[0]["text"]
    for part in (
        "YellowLive",
        "Store1",
        "batch 42",
        "relation customers does not exist",
        "https://argo/workflows/ns/run-1",
    ):
        assert part in text


def test_notification_without_url_or_with_a_dead_webhook_never_fails() -> None:
    message = notify.failure_message("P", "S", "", "Error", "", "")
    assert notify.send(message, "").startswith("no DATASURFACE_NOTIFY_URL")
    assert notify.send(message, "http://127.0.0.1:9/hook", timeout=2).startswith("notification failed")
    result = run_cli("job", "notify", "--platform", "P", "--stream", "S")
    assert result.returncode == 0


def test_a_notification_url_that_is_not_http_is_never_opened() -> None:
    message = notify.failure_message("P", "S", "", "Error", "", "")
    assert notify.send(message, "file:///etc/passwd").endswith("notification skipped")
