"""The webhook intake under attack, over real HTTP: oversized and chunked bodies, invented event
names, and signed payloads of the wrong shape. Every answer is a 4xx naming the problem; none is
a 500, and nothing unchecked is queued."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handler.service.app import create_app
from handler.service.intake import BodyTooLargeError, read_capped
from handler.service.signature import sign
from tests.support.fake_github import ServerThread
from tests.support.service_env import REPO, SECRET, Env, free_port, pr_payload, push_payload, start_service


@pytest.fixture
def service(env: Env) -> Iterator[str]:
    with ServerThread(create_app(env.config, start_worker=False)) as url:
        yield url


def signed(service: str, event: str, body: bytes) -> httpx.Response:
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET.encode(), body),
    }
    return httpx.post(f"{service}/webhook", content=body, headers=headers, timeout=30)


def test_the_body_is_read_no_further_than_the_limit() -> None:
    consumed = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(100):
            consumed += 1
            yield b"x" * 1024

    with pytest.raises(BodyTooLargeError):
        asyncio.run(read_capped(chunks(), limit=10 * 1024))
    assert consumed == 11


def test_an_unsigned_chunked_body_over_the_limit_is_refused_without_being_kept(env: Env) -> None:
    """A real service process: 300 MiB chunked and unsigned get 413, and its memory stays small."""
    port = free_port()
    process = start_service(env, port)
    try:
        before = peak_memory_kib(process.pid)

        def chunks() -> Iterator[bytes]:
            for _ in range(300):
                yield b"x" * (1024 * 1024)

        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/webhook", content=chunks(), headers={"X-GitHub-Event": "push"}, timeout=60
            )
            assert response.status_code == 413
        except httpx.TransportError:
            pass  # the server may close the connection once it has answered
        grown = peak_memory_kib(process.pid) - before
        assert grown < 60 * 1024, f"the service's peak memory grew by {grown // 1024} MiB"
    finally:
        process.terminate()
        process.wait(30)


def peak_memory_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


def test_a_declared_oversized_body_is_refused_before_it_is_sent(service: str) -> None:
    """Content-Length over the limit: 413 at once, without waiting for (or reading) the body."""
    host, port = service.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-GitHub-Event: push\r\nContent-Length: 28311552\r\n\r\n{"
        )
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_unknown_event_names_create_no_metric_series(service: str) -> None:
    for n in range(50):
        httpx.post(
            f"{service}/webhook", content=b"{}", headers={"X-GitHub-Event": f"made-up-{n}", "X-GitHub-Delivery": "x"}
        )
    metrics = httpx.get(f"{service}/metrics").text
    assert "made-up" not in metrics
    assert 'datasurface_webhook_deliveries_total{event="other",result="bad-signature"} 50.0' in metrics


def mutated(payload: dict[str, Any], path: list[str | int], value: Any) -> bytes:
    changed = copy.deepcopy(payload)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(changed).encode()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["pull_request", "head"], ["not", "an", "object"], "$.pull_request.head"),
        (["pull_request", "head", "repo"], "a string", "$.pull_request.head.repo"),
        (["pull_request", "head", "sha"], "HEAD~1", "$.pull_request.head.sha"),
        (["pull_request", "head", "sha"], {"an": "object"}, "$.pull_request.head.sha"),
        (["pull_request", "base", "sha"], "--output=/tmp/x", "$.pull_request.base.sha"),
        (["number"], 2**63, "$.number"),
        (["number"], -1, "$.number"),
        (["repository", "clone_url"], "--upload-pack=touch /tmp/pwned", "$.repository.clone_url"),
        (["pull_request", "head", "ref"], "a\nb", "$.pull_request.head.ref"),
    ],
)
def test_a_signed_pull_request_of_the_wrong_shape_gets_400_naming_the_field(
    env: Env, service: str, path: list[str | int], value: Any, field: str
) -> None:
    payload = pr_payload(env.model, 3, env.model.sha(), env.model.sha())
    response = signed(service, "pull_request", mutated(payload, path, value))
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


@pytest.mark.parametrize(
    ("value", "field"), [("--output=/tmp/x", "$.after"), ("HEAD~1", "$.after"), ({"sha": 1}, "$.after")]
)
def test_a_push_whose_sha_is_not_a_sha_is_refused(env: Env, service: str, value: Any, field: str) -> None:
    payload = push_payload(env.model, env.model.sha(), "0" * 40)
    response = signed(service, "push", mutated(payload, ["after"], value))
    assert response.status_code == 400 and field in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"repository": {"full_name": "' + REPO.encode() + b'"}, "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b"null",
        b'{"repository": "acme/datasurface-model"}',
    ],
    ids=["invalid-utf8", "deep-array", "deep-unused-field", "null", "repository-string"],
)
def test_garbage_that_is_signed_still_gets_400_not_500(service: str, body: bytes) -> None:
    response = signed(service, "pull_request", body)
    assert response.status_code in (400, 403), response.text


def test_a_pull_request_from_a_deleted_fork_is_accepted(env: Env, service: str) -> None:
    payload = pr_payload(env.model, 4, env.model.sha(), env.model.sha())
    payload["pull_request"]["head"]["repo"] = None
    response = signed(service, "pull_request", json.dumps(payload).encode())
    assert response.status_code == 202 and response.json()["status"] == "queued"
