"""The merge handler under stress: a kill with work queued, and 200 concurrent deliveries."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections import Counter

import httpx

from handler.service.app import create_app
from handler.service.queue import DONE, SUPERSEDED
from handler.service.signature import sign
from tests.support.fake_github import ServerThread
from tests.support.gitrepos import add_column
from tests.support.service_env import (
    SECRET,
    Env,
    deliver,
    free_port,
    pr_payload,
    push_payload,
    start_service,
    wait_until,
)


def test_killed_with_work_queued_then_restarted_the_work_completes(env: Env) -> None:
    base = env.model.sha("main")
    env.model.branch("team1")
    head = env.model.change(add_column("nickname"), "add nickname")
    env.model.push("team1")
    merged = env.model.merge_to_main("team1")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start_service(env, port)
    for number in (1, 2, 3):
        assert deliver(url, "pull_request", pr_payload(env.model, number, head, base)).status_code == 202
    assert deliver(url, "push", push_payload(env.model, merged, base)).status_code == 202
    first.send_signal(signal.SIGKILL)  # acknowledged, mostly not done
    first.wait(30)
    from handler.service.queue import QUEUED, RUNNING, JobQueue

    left = JobQueue(env.config.state_url)
    assert left.jobs_with(QUEUED) or left.jobs_with(RUNNING), (
        "the kill came after all work was done; nothing to recover"
    )
    left.engine.dispose()
    second = start_service(env, port)
    try:
        wait_until(
            lambda: len([s for s in env.github.statuses if s["state"] in ("success", "failure")]) >= 4,
            timeout=120,
            what="all work done",
        )
        for number in (1, 2, 3):
            assert len(env.comments(number)) == 1
        assert [s["state"] for s in env.github.statuses_for(head, "datasurface/validate")][-1] == "success"
        assert len(env.deployment_log()) == 1
        jobs = httpx.get(f"{url}/").text
        assert "queued" not in jobs.split("Recent deliveries")[0]
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)


def test_200_concurrent_deliveries_none_lost_none_processed_twice(env: Env) -> None:
    base = env.model.sha("main")
    env.model.branch("team1")
    heads = [env.model.change(add_column(f"col_{i}"), f"step {i}") for i in range(10)]
    env.model.push("team1")
    prs = range(1, 21)
    deliveries = []
    for number in prs:
        for head in heads:
            body = json.dumps(pr_payload(env.model, number, head, base, action="synchronize")).encode()
            deliveries.append((str(uuid.uuid4()), body))

    async def send_all(url: str) -> list[dict]:
        # a fresh connection per delivery, as GitHub sends them: a kept-alive connection may be
        # closed by the server's keep-alive timer just as the next request goes out, and HTTP
        # lets it (RFC 9112 9.3.1), which would be a client race, not a lost delivery
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def send(delivery: str, body: bytes) -> dict:
                response = await client.post(
                    f"{url}/webhook",
                    content=body,
                    headers={
                        "X-GitHub-Event": "pull_request",
                        "X-GitHub-Delivery": delivery,
                        "X-Hub-Signature-256": sign(SECRET.encode(), body),
                    },
                )
                assert response.status_code == 202
                return response.json()

            # every delivery twice, all at once: GitHub retries what it thinks was lost
            return await asyncio.gather(*(send(d, b) for d, b in deliveries + deliveries))

    app = create_app(env.config)
    with ServerThread(app) as url:
        answers = asyncio.run(send_all(url))
        statuses = Counter(a["status"] for a in answers)
        assert statuses == {"queued": 200, "duplicate": 200}
        queue = app.state.queue
        wait_until(lambda: queue.depth() == 0, timeout=300, what="queue drained")
        jobs = queue.recent_jobs(limit=1000)
    assert len(jobs) == 200 and len({j["delivery_id"] for j in jobs}) == 200  # none lost
    assert {j["status"] for j in jobs} <= {DONE, SUPERSEDED}
    done = [j for j in jobs if j["status"] == DONE]
    assert done and all(j["attempts"] == 1 for j in done)  # none processed twice
    for number in prs:
        assert len(env.comments(number)) == 1
    processed = Counter((s["sha"], s["state"]) for s in env.github.statuses if s["context"] == "datasurface/validate")
    assert sum(n for (_, state), n in processed.items() if state == "pending") == len(done)
    assert not any(state in ("failure", "error") for (_, state) in processed)
