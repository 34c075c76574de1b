"""What a deployment should bring up, read from the rendered deployment tree: its Argo CD
Applications and its streams' CronWorkflows."""

from __future__ import annotations

from pathlib import Path

import yaml

from handler.rollout.model import ExpectedStream


def expected_rollout(tree: Path) -> tuple[list[str], list[ExpectedStream]]:
    """(Application names, streams) of a deployment tree: the root and platform Applications, and
    every CronWorkflow with its platform and stream labels."""
    apps: list[str] = []
    for path in sorted([tree / "apps" / "root.yaml", *sorted((tree / "apps" / "platforms").glob("*.yaml"))]):
        if path.is_file():
            apps += [doc["metadata"]["name"] for doc in yaml.safe_load_all(path.read_text()) if doc]
    streams: list[ExpectedStream] = []
    for path in sorted(tree.glob("platforms/*/30-cron-*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CronWorkflow":
                labels = doc["metadata"].get("labels") or {}
                streams.append(
                    ExpectedStream(
                        platform=str(labels.get("datasurface.io/platform", "")),
                        stream=str(labels.get("datasurface.io/stream", "")),
                        namespace=str(doc["metadata"]["namespace"]),
                        cron=str(doc["metadata"]["name"]),
                    )
                )
    return apps, streams
