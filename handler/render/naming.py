"""Names of rendered objects: Kubernetes names, stream keys, consumer view names.

Kubernetes names are DNS-1123 (lower case, digits, '-'); SQL names are lower-case
identifiers. Names that would be too long keep a readable prefix and gain a short hash of the
full name, so they stay unique and stable.
"""

from __future__ import annotations

import hashlib
import re

K8S_NAME_MAX = 63
CRON_WORKFLOW_NAME_MAX = 52  # Argo appends a timestamp suffix to the CronWorkflow's runs
SQL_NAME_MAX = 63


def _shorten(name: str, limit: int, sep: str) -> str:
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name[: limit - len(digest) - 1].rstrip(sep) + sep + digest


def k8s_name(*parts: str, limit: int = K8S_NAME_MAX) -> str:
    """``k8s_name("YellowLive", "Store_1")`` -> ``yellowlive-store-1``."""
    raw = "-".join(parts)
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-") or "x"
    if name != raw.lower() or len(name) > limit:
        # Distinct model names can map to one DNS name ("a_b", "a-b"): keep them apart.
        if name != raw.lower() and len(name) + 9 <= limit:
            return name + "-" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    return _shorten(name, limit, "-")


def stream_key(store: str, dataset: str | None = None) -> str:
    """A stream is a datastore (multi-dataset ingestion) or one of its datasets (single)."""
    return store if dataset is None else f"{store}_{dataset}"


def sql_name(*parts: str) -> str:
    """A lower-case SQL identifier: ``sql_name("LiveDSG", "customers")`` -> ``livedsg_customers``."""
    name = re.sub(r"[^a-z0-9_]+", "_", "_".join(parts).lower()).strip("_")
    return _shorten(name, SQL_NAME_MAX, "_")
