"""The Grafana dashboard of a platform, built with Grafana's own typed SDK (pure).

Rendered per platform into a ConfigMap labelled ``grafana_dashboard: "1"``, which Grafana's
dashboard sidecar (kube-prometheus-stack's, Grafana's Helm chart's) loads. Template variables
``platform`` (this platform by default) and ``stream``; the metrics are documented in
docs/operations.md. Every expression is checked by a PromQL parser and against the names the
exporter and the handler expose (tests/handler/render/test_monitoring.py).
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
STREAMS = 'platform=~"$platform",stream=~"$stream"'
#: The label Grafana's dashboard sidecar selects ConfigMaps by (its default).
SIDECAR_LABEL = {"grafana_dashboard": "1"}


def _query(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant().format(pm.PromQueryFormat.TABLE) if instant else query.range()


def _series(title: str, description: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
    for q in queries:
        panel = panel.with_target(q)
    return panel.height(8).span(12)


def build_dashboard(platform: str, uid: str, argo_ui_url: str) -> dict[str, Any]:
    """The dashboard's JSON model (a dict)."""
    failed_runs = f"{argo_ui_url}/workflows/${{__data.fields.namespace}}?label=datasurface.io%2Fstream%3D${{__data.fields.stream}}"
    builder = (
        gd.Dashboard(f"DataSurface / {platform}")
        .uid(uid)
        .tags(["datasurface"])
        .description("Freshness, batches and runs of the platform's streams, and the handler's queue and jobs.")
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(gd.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            gd.QueryVariable("platform")
            .label("Platform")
            .datasource(DATASOURCE)
            .query("label_values(datasurface_stream_info, platform)")
            .current(dm.VariableOption(selected=True, text=platform, value=platform))
            .multi(True)
            .include_all(True)
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        .with_variable(
            gd.QueryVariable("stream")
            .label("Stream")
            .datasource(DATASOURCE)
            .query('label_values(datasurface_stream_info{platform=~"$platform"}, stream)')
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        .with_row(gd.Row("Freshness"))
        .with_panel(
            _series(
                "Age of the last commit against the freshness target",
                "Seconds since each stream's last committed batch, beside its target "
                "(alert DataSurfaceStreamStale when the age stays above it).",
                "s",
                _query(f"datasurface_stream_last_commit_age_seconds{{{STREAMS}}}", "{{platform}} {{stream}} age"),
                _query(
                    f"datasurface_stream_freshness_target_seconds{{{STREAMS}}}", "{{platform}} {{stream}} target", "B"
                ),
            )
        )
        .with_panel(
            stat.Panel()
            .title("Streams past their target")
            .description("Streams whose last commit is older than their freshness target.")
            .datasource(DATASOURCE)
            .with_target(
                _query(
                    f"count(datasurface_stream_last_commit_age_seconds{{{STREAMS}}} > "
                    f"datasurface_stream_freshness_target_seconds{{{STREAMS}}}) or vector(0)"
                )
            )
            .height(8)
            .span(6)
        )
        .with_panel(
            stat.Panel()
            .title("Runs in progress")
            .description("Streams a snapshot-merge run is working on now.")
            .datasource(DATASOURCE)
            .with_target(_query(f"sum(datasurface_stream_running{{{STREAMS}}})"))
            .height(8)
            .span(6)
        )
        .with_panel(
            _series(
                "Consumer databases: lag behind the merge database",
                "Workspaces with their own consumer database: how long the oldest batch not yet delivered there "
                "has waited, 0 when every batch is there (alert DataSurfaceConsumerDeliveryDown when one stops "
                "receiving).",
                "s",
                _query(f"datasurface_consumer_lag_seconds{{{STREAMS}}}", "{{workspace}} {{stream}} lag"),
            )
        )
        .with_row(gd.Row("Batches and runs"))
        .with_panel(
            _series(
                "Batch duration",
                "Start to commit of committed batches: the average over the interval, and each stream's last.",
                "s",
                _query(
                    f"rate(datasurface_batch_duration_seconds_sum{{{STREAMS}}}[$__rate_interval]) / "
                    f"rate(datasurface_batch_duration_seconds_count{{{STREAMS}}}[$__rate_interval])",
                    "{{platform}} {{stream}} average",
                ),
                _query(
                    f"datasurface_stream_last_batch_duration_seconds{{{STREAMS}}}", "{{platform}} {{stream}} last", "B"
                ),
            )
        )
        .with_panel(
            _series(
                "Row changes per batch",
                "Rows the last committed batch of each dataset inserted, updated and deleted.",
                "short",
                _query(f"datasurface_dataset_last_batch_rows{{{STREAMS}}}", "{{stream}} {{dataset}} {{change}}"),
            )
        )
        .with_panel(
            _series(
                "Success rate",
                "Share of runs that did not end in error (a run that found the stream locked is not counted).",
                "percentunit",
                _query(
                    f'sum by (platform, stream) (increase(datasurface_runs_total{{{STREAMS},outcome=~"done|keep_working"}}[1h])) / '
                    f'sum by (platform, stream) (increase(datasurface_runs_total{{{STREAMS},outcome!="locked"}}[1h]))',
                    "{{platform}} {{stream}}",
                ),
            )
        )
        .with_panel(
            _series(
                "Keep-working pauses of open batches",
                "Runs that paused a stream's open batch with more to merge (alert DataSurfaceKeepWorkingLoop).",
                "short",
                _query(f"datasurface_stream_open_batch_keep_working_runs{{{STREAMS}}}", "{{platform}} {{stream}}"),
            )
        )
        .with_panel(
            table.Panel()
            .title("Failing streams")
            .description("Streams whose last runs ended in error; the link opens their runs in the Argo UI.")
            .datasource(DATASOURCE)
            .with_target(
                _query(
                    f"(datasurface_stream_consecutive_failed_runs{{{STREAMS}}} > 0) "
                    f"* on (platform, stream) group_left (namespace) datasurface_stream_info{{{STREAMS}}}",
                    instant=True,
                )
            )
            .data_links([gd.DashboardLink("Runs in the Argo UI").url(failed_runs).target_blank(True)])
            .height(8)
            .span(24)
        )
        .with_row(gd.Row("Handler"))
        .with_panel(
            _series(
                "Handler queue",
                "Jobs queued or running, and how long the oldest ready job has waited (alert DataSurfaceHandlerBacklog).",
                "short",
                _query("datasurface_queue_depth", "jobs"),
                _query("datasurface_queue_oldest_job_age_seconds", "oldest ready job (s)", "B"),
            )
        )
        .with_panel(
            _series(
                "Validation, deploy and rollout durations (p90)",
                "90th percentile of job durations by kind.",
                "s",
                _query(
                    "histogram_quantile(0.9, sum by (le, kind) (rate(datasurface_job_seconds_bucket[$__rate_interval])))",
                    "{{kind}}",
                ),
            )
        )
        .with_panel(
            _series(
                "Handler jobs by result",
                "Jobs finished per hour by kind and status (alerts DataSurfaceDeploysFailing, DataSurfaceRolloutsFailing).",
                "short",
                _query("sum by (kind, status) (increase(datasurface_jobs_total[1h]))", "{{kind}} {{status}}"),
            )
        )
    )
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return model


def dashboard_expressions(model: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard's panels (rows hold none)."""
    return [target["expr"] for panel in model.get("panels", []) for target in panel.get("targets", [])]
