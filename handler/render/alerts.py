"""Alerting rules of a platform, as the rule groups of a ``PrometheusRule`` (pure).

Every expression is limited to the platform's series (``platform="<name>"``), so the rules of
several platforms never alert twice for one stream. Each alert has a severity, a summary, a
description with the stream and its figures, and a runbook in docs/operations.md (whose headings
are the alert names). Tested by ``promtool check rules`` and ``promtool test rules``.
"""

from __future__ import annotations

import json
from typing import Any

#: How long a condition must hold before an alert fires: longer than one slow scrape or run.
STALE_FOR = "5m"


def promql_string(value: str) -> str:
    """A PromQL string literal (Go's double-quoted escapes, which JSON's are a subset of)."""
    return json.dumps(value)


def _alert(
    name: str, expr: str, duration: str, severity: str, summary: str, description: str, runbook_url: str
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{runbook_url}#{name.lower()}",
        },
    }


def _stream_value(metric: str, duration: bool = True) -> str:
    """A template clause giving the alerting stream's value of ``metric`` (queried when the alert
    is sent), humanized as a duration or not."""
    humanize = " | humanizeDuration" if duration else ""
    return (
        f'{{{{ with printf "{metric}{{platform=%q,stream=%q}}" $labels.platform $labels.stream | query }}}}'
        f"{{{{ . | first | value{humanize} }}}}{{{{ end }}}}"
    )


def platform_rule_groups(platform: str, exporter_job: str, namespace: str, runbook_url: str) -> list[dict[str, Any]]:
    """The rule groups of one platform's ``PrometheusRule``."""
    p = f"platform={promql_string(platform)}"
    stream = "Stream {{ $labels.stream }} of platform {{ $labels.platform }}"
    rules = [
        _alert(
            "DataSurfaceStreamStale",
            # The age consumers see: the merge database's, or a consumer database's when it lags behind.
            f"max by (platform, stream) (datasurface_stream_last_commit_age_seconds{{{p}}} "
            f"or datasurface_consumer_last_commit_age_seconds{{{p}}}) "
            f"> on (platform, stream) datasurface_stream_freshness_target_seconds{{{p}}}",
            STALE_FOR,
            "critical",
            "A stream's data is older than its freshness target",
            f"{stream}: the newest data its consumers can read committed {{{{ $value | humanizeDuration }}}} ago; "
            f"its target is {_stream_value('datasurface_stream_freshness_target_seconds')}.",
            runbook_url,
        ),
        _alert(
            "DataSurfaceStreamNeverCommitted",
            f"(time() - datasurface_stream_first_seen_timestamp_seconds{{{p}}}) > "
            f"datasurface_stream_freshness_target_seconds{{{p}}} "
            f"unless datasurface_stream_last_commit_timestamp_seconds{{{p}}}",
            STALE_FOR,
            "critical",
            "A stream has never committed a batch",
            f"{stream} was first seen {{{{ $value | humanizeDuration }}}} ago and has not committed a batch yet; "
            f"its target is {_stream_value('datasurface_stream_freshness_target_seconds')}.",
            runbook_url,
        ),
        _alert(
            "DataSurfaceBatchesFailing",
            f"datasurface_stream_consecutive_failed_runs{{{p}}} >= 3",
            "0m",
            "critical",
            "A stream's snapshot-merge runs keep failing",
            f"{stream}: the last {{{{ $value }}}} runs ended in error (retries included).",
            runbook_url,
        ),
        _alert(
            "DataSurfaceKeepWorkingLoop",
            f"datasurface_stream_open_batch_age_seconds{{{p}}} > datasurface_stream_freshness_target_seconds{{{p}}} "
            f"and datasurface_stream_open_batch_keep_working_runs{{{p}}} > 0",
            "15m",
            "warning",
            "A batch keeps pausing and does not finish",
            f"{stream}: its open batch started {{{{ $value | humanizeDuration }}}} ago and has paused "
            f"{_stream_value('datasurface_stream_open_batch_keep_working_runs', duration=False)} "
            "times with more to merge.",
            runbook_url,
        ),
        _alert(
            "DataSurfaceMergeDatabaseDown",
            f"datasurface_merge_database_up{{{p}}} == 0",
            STALE_FOR,
            "critical",
            "The status exporter cannot read the merge database",
            "The status exporter of platform {{ $labels.platform }} cannot read its merge database.",
            runbook_url,
        ),
        _alert(
            "DataSurfaceConsumerDeliveryDown",
            f"datasurface_consumer_database_up{{{p}}} == 0 or datasurface_consumer_replication_active{{{p}}} == 0",
            "10m",
            "warning",
            "A workspace's consumer database is not receiving changes",
            "Workspace {{ $labels.workspace }} of platform {{ $labels.platform }}: its consumer database cannot be "
            "read or its subscription is not streaming. Its views stay at the last delivered batch; the merge "
            "database keeps the changes for it meanwhile.",
            runbook_url,
        ),
        _alert(
            "DataSurfaceStatusExporterDown",
            f"up{{job={promql_string(exporter_job)},namespace={promql_string(namespace)}}} == 0",
            STALE_FOR,
            "warning",
            "Prometheus cannot scrape a platform's status exporter",
            # Model names never go into a template: they come in as label values only.
            "The status exporter {{ $labels.job }} in namespace {{ $labels.namespace }} ({{ $labels.instance }}) "
            "does not answer scrapes: no freshness alert can fire for its streams.",
            runbook_url,
        ),
    ]
    return [{"name": f"datasurface-{platform}", "rules": rules}]
