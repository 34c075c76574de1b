"""``datasurface render``, ``plan``, ``job spec`` and ``job notify`` as a user runs them."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from handler.render.preview import preview
from workflows import notify

from .conftest import TEMPLATE, build_template_ecosystem
from .test_cli import run


def test_render_writes_the_tree_and_is_idempotent(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    first = run("render", "--model", str(TEMPLATE), "--out", str(out), "--model-commit", "feedbeef")
    assert first.returncode == 0, first.stderr
    assert "16 written" in first.stdout
    assert json.loads((out / ".datasurface/manifest.json").read_text())["model_commit"] == "feedbeef"
    second = run("render", "--model", str(TEMPLATE), "--out", str(out), "--model-commit", "feedbeef")
    assert "0 written, 16 unchanged, 0 deleted" in second.stdout


def test_render_refuses_a_model_with_lint_errors(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(TEMPLATE, model)
    (model / "eco.py").write_text((model / "eco.py").read_text().replace('"firstName"', '"first-name"'))
    result = run("render", "--model", str(model), "--out", str(tmp_path / "deploy"))
    assert result.returncode == 1
    assert "identifier-invalid" in result.stdout + result.stderr
    assert not (tmp_path / "deploy").exists()


def test_job_spec_prints_one_streams_contract() -> None:
    result = run("job", "spec", "--model", str(TEMPLATE), "--platform", "YellowForensic", "--stream", "Store1")
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert (spec["platform"], spec["strategy"], spec["stream"], spec["spec_version"]) == (
        "YellowForensic",
        "forensic",
        "Store1",
        1,
    )
    missing = run("job", "spec", "--model", str(TEMPLATE), "--platform", "YellowLive", "--stream", "Nope")
    assert missing.returncode == 2 and "streams: Store1" in missing.stderr


def test_plan_lists_what_a_merge_changes(tmp_path: Path) -> None:
    head = tmp_path / "head"
    shutil.copytree(TEMPLATE, head)
    mapping = json.loads((head / "dsg_platform_mapping.json").read_text())
    (head / "dsg_platform_mapping.json").write_text(json.dumps([m for m in mapping if m["dsgName"] == "LiveDSG"]))
    (head / "eco.py").write_text(
        (head / "eco.py")
        .read_text()
        .replace(
            'DDLColumn("phone", VarChar(100))',
            'DDLColumn("phone", VarChar(100)),\n                            DDLColumn("nickname", VarChar(40))',
        )
    )
    result = run("plan", "--base", str(TEMPLATE), "--head", str(head), "--format", "json")
    assert result.returncode == 0, result.stderr
    items = {(i["category"], i["name"], i["kind"]) for i in json.loads(result.stdout)["items"]}
    assert ("stream", "YellowForensic/Store1", "removed") in items
    assert ("stream", "YellowLive/Store1", "changed") in items
    assert ("view", "YellowForensic: consumer1.forensicdsg_customers_history", "removed") in items
    assert ("view", "YellowLive: consumer1.livedsg_customers", "changed") in items
    assert ("file", "platforms/yellowforensic/30-cron-store1.yaml", "removed") in items
    assert ("platform", "YellowForensic", "changed") not in items  # the platform itself stays
    diff = json.loads(result.stdout)["diffs"]["platforms/yellowlive/10-job-specs.yaml"]
    assert "+" in diff and "nickname" in diff
    markdown = run("plan", "--base", str(TEMPLATE), "--head", str(head), "--format", "markdown").stdout
    assert markdown.startswith("### Merge preview") and "```diff" in markdown


def test_an_unchanged_model_previews_nothing() -> None:
    assert preview(build_template_ecosystem(), build_template_ecosystem()).empty


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
    result = run("job", "notify", "--platform", "P", "--stream", "S")
    assert result.returncode == 0
