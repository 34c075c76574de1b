"""Names of rendered Kubernetes objects and of ingestion streams.

Kubernetes names are DNS-1123 (lower case, digits, '-'). Names that would be too long keep a
readable prefix and gain a digest of the full name (``workflows.spec.shorten``, the one scheme
every generated name uses), so they stay unique and stable. SQL names of consumer views are
``workflows.spec.sql_name``.
"""

from __future__ import annotations

import re

from workflows.spec import name_digest, shorten

K8S_NAME_MAX = 63
CRON_WORKFLOW_NAME_MAX = 52  # Argo appends a timestamp suffix to the CronWorkflow's runs


def k8s_name(*parts: str, limit: int = K8S_NAME_MAX) -> str:
    """``k8s_name("YellowLive", "Store_1")`` -> ``yellowlive-store-1-<digest>``; ``("YellowLive")`` -> ``yellowlive``."""
    raw = "-".join(parts)
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-") or "x"
    # Distinct model names can map to one DNS name ("a_b", "a-b"): keep them apart.
    if name != raw.lower() and len(name) + 11 <= limit:
        return name + "-" + name_digest(raw)
    return shorten(name, limit, "-")


def stream_key(store: str, dataset: str | None = None) -> str:
    """A stream is a datastore (multi-dataset ingestion) or one of its datasets (single)."""
    return store if dataset is None else f"{store}_{dataset}"
