"""Webhook service benchmark: acknowledgement latency under concurrency, and webhook-to-comment time.

Runs the real service (uvicorn, SQLite state) on loopback with the local GitHub stand-in used by
the tests, real git repositories and the MVP model. Prints:
- acknowledgement latency percentiles of signed pull_request deliveries (unique delivery ids)
  sent over ``--concurrency`` connections by wrk (a C load generator: a Python client is itself
  the bottleneck on a small machine) against the service in its own process, workers off, so
  the figure is the intake path: verify, parse, durably record, 202; the baseline, measured in
  the same run, is GET /healthz under the same load;
- the time from a pull-request webhook to the bot's comment for the MVP model, median of ``--prs``.

    python bench/webhook_bench.py [--deliveries 500] [--concurrency 50] [--prs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from handler.service.app import create_app  # noqa: E402
from handler.service.config import ServiceConfig  # noqa: E402
from handler.service.signature import sign  # noqa: E402
from tests.support.fake_github import FakeGitHub, ServerThread  # noqa: E402
from tests.support.gitrepos import ModelRepo, add_column, git  # noqa: E402
from tests.support.service_env import REPO, SECRET, deliver, pr_payload, wait_until  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def hammer(url: str, requests: list[tuple[str, bytes, dict[str, str]]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:

        async def one(method: str, body: bytes, headers: dict[str, str]) -> None:
            async with semaphore:
                started = time.perf_counter()
                response = await (
                    client.post(f"{url}/webhook", content=body, headers=headers)
                    if method == "POST"
                    else client.get(f"{url}/healthz")
                )
                latencies.append(time.perf_counter() - started)
                assert response.status_code in (200, 202), response.text

        await asyncio.gather(*(one(*r) for r in requests))
    return latencies


def report(label: str, latencies: list[float]) -> None:
    ms = [x * 1000 for x in latencies]
    print(
        f"{label:<28} p50 {percentile(ms, 50):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms  p99 {percentile(ms, 99):6.1f} ms  max {max(ms):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--prs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="datasurface-webhook-bench-") as tmp:
        root = Path(tmp)
        github = FakeGitHub()
        with ServerThread(github.app()) as api_url:
            github.base_url = api_url
            model = ModelRepo(root)
            git(root, "init", "-q", "--bare", "-b", "main", str(root / "deploy.git"))
            base = model.sha("main")
            model.branch("team1")
            head = model.change(add_column("nickname"), "add nickname")
            model.push("team1")
            config = ServiceConfig(
                github_api_url=api_url,
                github_token="t",  # noqa: S106 - the local GitHub stand-in accepts any token
                webhook_secret=SECRET,
                allowed_repos=[REPO],
                deploy_repo_url=str(root / "deploy.git"),
                work_dir=root / "work",
                workers=2,
            )

            # 1. webhook -> comment, one PR at a time, the service otherwise idle
            app = create_app(config)
            with ServerThread(app) as url:
                durations = []
                for number in range(1, args.prs + 1):
                    github.pr_files[(REPO, number)] = ["eco.py"]
                    started = time.perf_counter()
                    deliver(url, "pull_request", pr_payload(model, number, head, base))
                    while not github.comments.get((REPO, number)):
                        time.sleep(0.01)
                    durations.append(time.perf_counter() - started)
                print(
                    f"webhook -> comment (MVP model, {args.prs} PRs): median {statistics.median(durations):.2f} s, "
                    f"max {max(durations):.2f} s (target < 5 s)"
                )

            # 2. acknowledgement latency: the service in its own process (as deployed), the client here
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            service = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "handler.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env={
                    **os.environ,
                    "DATASURFACE_GITHUB_API_URL": api_url,
                    "DATASURFACE_GITHUB_TOKEN": "t",
                    "DATASURFACE_WEBHOOK_SECRET": SECRET,
                    "DATASURFACE_ALLOWED_REPOS": REPO,
                    "DATASURFACE_DEPLOY_REPO_URL": str(root / "deploy.git"),
                    "DATASURFACE_WORK_DIR": str(root / "work2"),
                    "DATASURFACE_WORKERS": "0",
                },
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_until(lambda: _up(url), timeout=60, what="service")
                body = json.dumps(pr_payload(model, 1000, head, base)).encode()
                if shutil.which("wrk"):
                    ack_with_wrk(url, body, args.concurrency, args.seconds, root)
                else:
                    print(
                        "wrk not found (apt-get install wrk): measuring with the Python client, which is itself the bottleneck here"
                    )
                    ack_with_httpx(url, body, args.deliveries, args.concurrency)
            finally:
                service.terminate()
                service.wait(30)


WRK_SCRIPT = """
local body = io.open("{body}", "rb"):read("*a")
local counter = 0
function setup(thread)
  thread:set("tid", math.random(1, 1000000000))
end
function request()
  counter = counter + 1
  return wrk.format("POST", "/webhook", {{
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Delivery"] = "bench-" .. tid .. "-" .. counter,
    ["X-Hub-Signature-256"] = "{signature}",
    ["Content-Type"] = "application/json",
  }}, body)
end
"""


def run_wrk(args: list[str]) -> dict[str, str]:
    out = subprocess.run(["wrk", "--latency", *args], capture_output=True, text=True, check=True).stdout
    figures = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            figures[parts[0]] = parts[1]
        elif line.startswith("Requests/sec:"):
            figures["rps"] = parts[1]
        elif "Non-2xx" in line:
            figures["non2xx"] = parts[-1]
    return figures


def ack_with_wrk(url: str, body: bytes, concurrency: int, seconds: int, root: Path) -> None:
    (root / "body.json").write_bytes(body)
    script = root / "deliveries.lua"
    script.write_text(WRK_SCRIPT.format(body=root / "body.json", signature=sign(SECRET.encode(), body)))
    common = ["-t2", f"-c{concurrency}", f"-d{seconds}s"]
    baseline = run_wrk([*common, f"{url}/healthz"])
    acks = run_wrk([*common, "-s", str(script), url])
    print(f"wrk, {concurrency} connections, {seconds} s each:")
    for label, figures in (("baseline GET /healthz", baseline), ("webhook acknowledgement", acks)):
        print(
            f"  {label:<26} p50 {figures.get('50%')}  p90 {figures.get('90%')}  p99 {figures.get('99%')}  {figures.get('rps')} req/s"
            + (f"  non-2xx {figures['non2xx']}" if "non2xx" in figures else "")
        )
    print("  target: acknowledgement p99 < 50 ms")
    import sqlite3

    with sqlite3.connect(root / "work2" / "state.db") as db:
        recorded = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    print(f"  deliveries durably recorded before their 202: {recorded}")


def ack_with_httpx(url: str, body: bytes, deliveries: int, concurrency: int) -> None:
    baseline = asyncio.run(hammer(url, [("GET", b"", {})] * deliveries, concurrency))
    requests = [
        (
            "POST",
            body,
            {
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(SECRET.encode(), body),
            },
        )
        for _ in range(deliveries)
    ]
    acks = asyncio.run(hammer(url, requests, concurrency))
    report("baseline GET /healthz", baseline)
    report("webhook acknowledgement", acks)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
