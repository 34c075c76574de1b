"""What an operator gets to watch a platform: the rendered status exporter, ServiceMonitor,
PrometheusRule and Grafana dashboard, and the handler's rules (k8s/handler/).

Rules are checked and unit-tested by Prometheus' own ``promtool`` (input series in, alerts out);
every expression is parsed by a real PromQL parser; every metric name they use is one that a
running exporter and a running handler expose, scraped over HTTP after real runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from handler.render import RenderOptions, render_tree, write_tree
from handler.render.dashboard import dashboard_expressions
from handler.service.app import create_app
from tests.support.cli import run_cli
from tests.support.fake_github import ServerThread
from tests.support.manifests import documents, validation_errors
from tests.support.merge_stack import Stack, mvp_spec, seed
from tests.support.pg import PostgresServer, require_logical_replication
from tests.support.service_env import Env, free_port, merge_and_wait_for_deploy, wait_until
from tests.support.template import build_template_ecosystem
from workflows.db import CONSUMER_URLS_ENV
from workflows.spec import consumer_credential_env

REPO_ROOT = Path(__file__).resolve().parents[3]
HANDLER_RULES = REPO_ROOT / "k8s" / "handler" / "prometheusrule.yaml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install --no-install-recommends prometheus; .ci/run does)",
)
#: Prometheus' own series, not exposed by our processes: the scrape health of a target.
PROMETHEUS_SERIES = {"up"}


@pytest.fixture(scope="module")
def tree() -> dict[str, bytes]:
    return render_tree(
        build_template_ecosystem(), RenderOptions(model_commit="0123456789abcdef0123456789abcdef01234567")
    )


def monitoring_docs(tree: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Every monitoring document, by "kind path" (the handler's rules and monitor included)."""
    docs = {f"{doc['kind']} {path}": doc for path, doc in documents(tree)}
    for path in (HANDLER_RULES, REPO_ROOT / "k8s" / "handler" / "servicemonitor.yaml"):
        doc = yaml.safe_load(path.read_text())
        docs[f"{doc['kind']} {path.name}"] = doc
    return {k: v for k, v in docs.items() if v["kind"] in ("ServiceMonitor", "PrometheusRule")}


def rule_groups(tree: dict[str, bytes]) -> dict[str, list[dict[str, Any]]]:
    """Rule groups by owner: each platform's PrometheusRule and the handler's."""
    groups = {
        path.split("/")[1]: doc["spec"]["groups"] for path, doc in documents(tree) if doc["kind"] == "PrometheusRule"
    }
    groups["handler"] = yaml.safe_load(HANDLER_RULES.read_text())["spec"]["groups"]
    return groups


def dashboards(tree: dict[str, bytes]) -> list[dict[str, Any]]:
    return [
        json.loads(body)
        for path, doc in documents(tree)
        if doc["kind"] == "ConfigMap" and path.endswith("53-dashboard.yaml")
        for body in doc["data"].values()
    ]


# --- every platform gets its exporter, monitor, rules and dashboard ---------------------------


def test_each_platform_has_an_exporter_monitor_rules_and_dashboard(tree: dict[str, bytes]) -> None:
    for platform in ("yellowlive", "yellowforensic"):
        kinds = sorted(doc["kind"] for path, doc in documents(tree) if path.startswith(f"platforms/{platform}/5"))
        assert kinds == ["ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"]


def test_monitoring_documents_validate_against_the_prometheus_operator_crds(tree: dict[str, bytes]) -> None:
    docs = monitoring_docs(tree)
    assert len(docs) == 6  # two platforms' monitor and rules, the handler's monitor and rules
    assert {k: validation_errors(doc) for k, doc in docs.items()} == {k: [] for k in docs}


def test_a_misspelt_rule_field_is_caught_by_the_crd_validation(tree: dict[str, bytes]) -> None:
    rules = yaml.safe_load(tree["platforms/yellowlive/52-prometheusrule.yaml"])
    rules["spec"]["groups"][0]["rules"][0]["fore"] = "5m"
    assert any("fore" in e for e in validation_errors(rules))


def test_the_exporter_runs_unprivileged_with_the_merge_secret_by_reference(tree: dict[str, bytes]) -> None:
    docs = list(yaml.safe_load_all(tree["platforms/yellowlive/50-status-exporter.yaml"]))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][:2] == ["status", "--serve"] and "--spec-dir" in container["args"]
    assert pod["securityContext"]["runAsNonRoot"] and not pod["automountServiceAccountToken"]
    assert container["securityContext"]["readOnlyRootFilesystem"]
    assert container["readinessProbe"] and container["livenessProbe"] and container["resources"]["limits"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    consumer_user, consumer_password = consumer_credential_env("postgres-consumer")
    assert env == {  # the merge database, and Consumer2's database whose delivery it reports
        "DATASURFACE_MERGE_USER": "postgres-merge",
        "DATASURFACE_MERGE_PASSWORD": "postgres-merge",
        consumer_user: "postgres-consumer",
        consumer_password: "postgres-consumer",
    }
    service = next(d for d in docs if d["kind"] == "Service")
    monitor = yaml.safe_load(tree["platforms/yellowlive/51-servicemonitor.yaml"])
    # The monitor finds the service, and the service the exporter's pods.
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert "datasurface.io/model-commit" not in deployment["spec"]["template"]["metadata"]["labels"]


def test_monitoring_labels_select_the_monitors_and_rules_for_a_prometheus() -> None:
    tree = render_tree(build_template_ecosystem(), RenderOptions(monitoring_labels={"release": "kube-prom"}))
    for path in ("platforms/yellowlive/51-servicemonitor.yaml", "platforms/yellowlive/52-prometheusrule.yaml"):
        assert yaml.safe_load(tree[path])["metadata"]["labels"]["release"] == "kube-prom"


def test_every_alert_has_a_severity_summary_description_and_runbook_in_the_docs(tree: dict[str, bytes]) -> None:
    operations = (REPO_ROOT / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", operations, re.M)
    }
    alerts = [rule for groups in rule_groups(tree).values() for g in groups for rule in g["rules"]]
    assert len({a["alert"] for a in alerts}) == 11
    for alert in alerts:
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["annotations"]["summary"] and "{{" in alert["annotations"]["description"]
        url = alert["annotations"]["runbook_url"]
        assert url.endswith("docs/operations.md#" + alert["alert"].lower()) and alert["alert"].lower() in anchors


def test_a_hostile_platform_name_is_escaped_in_promql_and_never_reaches_a_template() -> None:
    from handler.render.alerts import platform_rule_groups

    name = 'P"} or vector(1) # {{ printf "x" }}\\'
    (group,) = platform_rule_groups(name, "p-status-exporter", "ns", "https://example.com/ops.md")
    for rule in group["rules"]:
        promql_parser.parse(rule["expr"])  # still one well-formed expression
        assert "or vector(1)" not in rule["expr"].replace(json.dumps(name), "")
        assert name not in json.dumps(rule["annotations"])


# --- promtool: the rules load, and fire when they should --------------------------------------


def write_rule_files(tree: dict[str, bytes], folder: Path) -> dict[str, Path]:
    paths = {}
    for owner, groups in rule_groups(tree).items():
        paths[owner] = folder / f"{owner}.rules.yaml"
        paths[owner].write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return paths


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)


@needs_promtool
def test_every_rule_group_passes_promtool_check_rules(tree: dict[str, bytes], tmp_path: Path) -> None:
    for path in write_rule_files(tree, tmp_path).values():
        result = promtool("check", "rules", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


LIVE = {"platform": "YellowLive", "stream": "Store1"}
CONSUMER2 = {**LIVE, "workspace": "Consumer2"}


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f"{k}={json.dumps(v)}" for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def alert(name: str, at: str, firing: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": firing}


def runbook(name: str) -> str:
    return f"https://github.com/datasurface/datasurface-gitops/blob/main/docs/operations.md#{name.lower()}"


def platform_tests() -> list[dict[str, Any]]:
    """Input series and expected alerts for YellowLive's stream Store1 (target 900 s), one
    evaluation per minute; "0+60x25" is an age growing by a minute each minute."""
    target = series("datasurface_stream_freshness_target_seconds", LIVE, "900x60")
    stale = {**LIVE, "severity": "critical"}
    stale_at_22m = alert(  # 22 minutes old, 15 allowed: past the target for more than 5 minutes
        "DataSurfaceStreamStale",
        "22m",
        [
            {
                "exp_labels": stale,
                "exp_annotations": {
                    "summary": "A stream's data is older than its freshness target",
                    "description": "Stream Store1 of platform YellowLive: the newest data its "
                    "consumers can read committed 22m 0s ago; its target is 15m 0s.",
                    "runbook_url": runbook("DataSurfaceStreamStale"),
                },
            }
        ],
    )
    return [
        {  # commits stop at minute 0; the age passes the target at 16m, the alert fires 5m later; resumes at 26m
            "interval": "1m",
            "input_series": [target, series("datasurface_stream_last_commit_age_seconds", LIVE, "0+60x25 30x20")],
            "alert_rule_test": [
                alert("DataSurfaceStreamStale", "15m", []),
                alert("DataSurfaceStreamStale", "20m", []),
                stale_at_22m,
                alert("DataSurfaceStreamStale", "30m", []),
            ],
        },
        {  # the merge database is fresh, but a consumer database stops receiving at minute 0 and resumes at 26m
            "interval": "1m",
            "input_series": [
                target,
                series("datasurface_stream_last_commit_age_seconds", LIVE, "0x45"),
                series("datasurface_consumer_last_commit_age_seconds", CONSUMER2, "0+60x25 30x20"),
                series(
                    "datasurface_consumer_database_up", {"platform": "YellowLive", "workspace": "Consumer2"}, "1x45"
                ),
                series(
                    "datasurface_consumer_replication_active",
                    {"platform": "YellowLive", "workspace": "Consumer2"},
                    "0x25 1x20",
                ),
            ],
            "alert_rule_test": [
                alert("DataSurfaceStreamStale", "20m", []),
                stale_at_22m,
                alert("DataSurfaceStreamStale", "30m", []),
                alert("DataSurfaceConsumerDeliveryDown", "9m", []),
                alert(
                    "DataSurfaceConsumerDeliveryDown",
                    "12m",
                    [
                        {
                            "exp_labels": {"platform": "YellowLive", "workspace": "Consumer2", "severity": "warning"},
                            "exp_annotations": {
                                "summary": "A workspace's consumer database is not receiving changes",
                                "description": "Workspace Consumer2 of platform YellowLive: its consumer database "
                                "cannot be read or its subscription is not streaming. Its views stay at the last "
                                "delivered batch; the merge database keeps the changes for it meanwhile.",
                                "runbook_url": runbook("DataSurfaceConsumerDeliveryDown"),
                            },
                        }
                    ],
                ),
                alert("DataSurfaceConsumerDeliveryDown", "30m", []),
            ],
        },
        {  # first seen at time 0, never commits until minute 25
            "interval": "1m",
            "input_series": [
                target,
                series("datasurface_stream_first_seen_timestamp_seconds", LIVE, "0x60"),
                series("datasurface_stream_last_commit_timestamp_seconds", LIVE, "_x25 1500x20"),
            ],
            "alert_rule_test": [
                alert("DataSurfaceStreamNeverCommitted", "18m", []),
                alert(
                    "DataSurfaceStreamNeverCommitted",
                    "22m",
                    [
                        {
                            "exp_labels": stale,
                            "exp_annotations": {
                                "summary": "A stream has never committed a batch",
                                "description": "Stream Store1 of platform YellowLive was first seen 22m 0s ago and has "
                                "not committed a batch yet; its target is 15m 0s.",
                                "runbook_url": runbook("DataSurfaceStreamNeverCommitted"),
                            },
                        }
                    ],
                ),
                alert("DataSurfaceStreamNeverCommitted", "30m", []),
            ],
        },
        {  # runs fail one after another from minute 2, and recover at minute 7
            "interval": "1m",
            "input_series": [series("datasurface_stream_consecutive_failed_runs", LIVE, "0 0 1 2 3 4 5 0 0")],
            "alert_rule_test": [
                alert("DataSurfaceBatchesFailing", "3m", []),
                alert(
                    "DataSurfaceBatchesFailing",
                    "4m",
                    [
                        {
                            "exp_labels": {**LIVE, "severity": "critical"},
                            "exp_annotations": {
                                "summary": "A stream's snapshot-merge runs keep failing",
                                "description": "Stream Store1 of platform YellowLive: the last 3 runs ended in error "
                                "(retries included).",
                                "runbook_url": runbook("DataSurfaceBatchesFailing"),
                            },
                        }
                    ],
                ),
                alert("DataSurfaceBatchesFailing", "7m", []),
            ],
        },
        {  # a batch open since minute 0 pauses from minute 5 on; past its target at 16m, for 15m more
            "interval": "1m",
            "input_series": [
                target,
                series("datasurface_stream_open_batch_age_seconds", LIVE, "0+60x50"),
                series("datasurface_stream_open_batch_keep_working_runs", LIVE, "0x5 1+1x45"),
            ],
            "alert_rule_test": [
                alert("DataSurfaceKeepWorkingLoop", "25m", []),
                alert(
                    "DataSurfaceKeepWorkingLoop",
                    "32m",
                    [
                        {
                            "exp_labels": {**LIVE, "severity": "warning"},
                            "exp_annotations": {
                                "summary": "A batch keeps pausing and does not finish",
                                "description": "Stream Store1 of platform YellowLive: its open batch started 32m 0s "
                                "ago and has paused 27 times with more to merge.",
                                "runbook_url": runbook("DataSurfaceKeepWorkingLoop"),
                            },
                        }
                    ],
                ),
            ],
        },
        {  # the exporter loses its database at minute 5
            "interval": "1m",
            "input_series": [series("datasurface_merge_database_up", {"platform": "YellowLive"}, "1x5 0x20")],
            "alert_rule_test": [
                alert("DataSurfaceMergeDatabaseDown", "8m", []),
                alert(
                    "DataSurfaceMergeDatabaseDown",
                    "11m",
                    [
                        {
                            "exp_labels": {"platform": "YellowLive", "severity": "critical"},
                            "exp_annotations": {
                                "summary": "The status exporter cannot read the merge database",
                                "description": "The status exporter of platform YellowLive cannot read its merge database.",
                                "runbook_url": runbook("DataSurfaceMergeDatabaseDown"),
                            },
                        }
                    ],
                ),
            ],
        },
    ]


HANDLER = {"job": "datasurface-handler", "instance": "10.0.0.5:8080"}


def handler_tests() -> list[dict[str, Any]]:
    return [
        {  # jobs wait from minute 10 on; past 10 minutes at minute 21, for 10 minutes more
            "interval": "1m",
            "input_series": [series("datasurface_queue_oldest_job_age_seconds", HANDLER, "0x10 0+60x40")],
            "alert_rule_test": [
                alert("DataSurfaceHandlerBacklog", "25m", []),
                alert(
                    "DataSurfaceHandlerBacklog",
                    "32m",
                    [
                        {
                            "exp_labels": {**HANDLER, "severity": "warning"},
                            "exp_annotations": {
                                "summary": "The handler's job queue is backed up",
                                "description": "The oldest job ready to run has waited 21m 0s (10.0.0.5:8080): "
                                "validations and deploys are late.",
                                "runbook_url": runbook("DataSurfaceHandlerBacklog"),
                            },
                        }
                    ],
                ),
            ],
        },
        {  # a deploy fails at minute 11, a rollout at minute 21
            "interval": "1m",
            "input_series": [
                series("datasurface_jobs_total", {**HANDLER, "kind": "deploy", "status": "failed"}, "0x10 1x40"),
                series("datasurface_jobs_total", {**HANDLER, "kind": "rollout", "status": "failed"}, "0x20 1x30"),
                series("datasurface_jobs_total", {**HANDLER, "kind": "deploy", "status": "done"}, "0+1x50"),
            ],
            "alert_rule_test": [
                alert("DataSurfaceDeploysFailing", "10m", []),
                alert("DataSurfaceRolloutsFailing", "15m", []),
                {
                    "eval_time": "12m",
                    "alertname": "DataSurfaceDeploysFailing",
                    "exp_alerts": [
                        {
                            "exp_labels": {**HANDLER, "kind": "deploy", "status": "failed", "severity": "critical"},
                            "exp_annotations": {
                                "summary": "Merges to the model repository are not being deployed",
                                "description": "1 deploy jobs failed in the last hour (10.0.0.5:8080): merged models "
                                "are not reaching the deployment repository.",
                                "runbook_url": runbook("DataSurfaceDeploysFailing"),
                            },
                        }
                    ],
                },
                {
                    "eval_time": "22m",
                    "alertname": "DataSurfaceRolloutsFailing",
                    "exp_alerts": [
                        {
                            "exp_labels": {**HANDLER, "kind": "rollout", "status": "failed", "severity": "warning"},
                            "exp_annotations": {
                                "summary": "Deployments are not rolling out",
                                "description": "1 rollouts failed in the last hour (10.0.0.5:8080): Argo CD did not "
                                "sync a deployment, or a stream's first run after it failed.",
                                "runbook_url": runbook("DataSurfaceRolloutsFailing"),
                            },
                        }
                    ],
                },
            ],
        },
    ]


@needs_promtool
@pytest.mark.parametrize("owner", ["yellowlive", "handler"])
def test_alerts_fire_when_they_should_and_not_before(tree: dict[str, bytes], tmp_path: Path, owner: str) -> None:
    rules = write_rule_files(tree, tmp_path)[owner]
    tests = tmp_path / f"{owner}.tests.yaml"
    cases = platform_tests() if owner == "yellowlive" else handler_tests()
    tests.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": cases}))
    result = subprocess.run(
        [str(PROMTOOL), "test", "rules", tests.name], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_catches_an_alert_that_would_fire_too_early(tree: dict[str, bytes], tmp_path: Path) -> None:
    """The rule tests can fail: expecting the stale alert before its target is a failure."""
    rules = write_rule_files(tree, tmp_path)["yellowlive"]
    case = platform_tests()[0]
    case["alert_rule_test"] = [
        alert("DataSurfaceStreamStale", "15m", [{"exp_labels": {**LIVE, "severity": "critical"}}])
    ]
    tests = tmp_path / "early.tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [rules.name], "tests": [case]}))
    result = subprocess.run(
        [str(PROMTOOL), "test", "rules", tests.name], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode != 0 and "DataSurfaceStreamStale" in result.stdout + result.stderr


# --- PromQL: every expression parses, and uses only names that are really exposed --------------

#: What Grafana substitutes before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$platform": ".*", "$stream": ".*"}


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def all_expressions(tree: dict[str, bytes]) -> dict[str, str]:
    exprs = {
        f"{owner} {rule['alert']}": rule["expr"]
        for owner, groups in rule_groups(tree).items()
        for g in groups
        for rule in g["rules"]
    }
    for board in dashboards(tree):
        for i, expr in enumerate(dashboard_expressions(board)):
            exprs[f"{board['uid']} panel target {i}"] = grafana_to_promql(expr)
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":  # label_values(<selector>, label): the selector is PromQL
                selector = re.fullmatch(r"label_values\((.*), *\w+\)", variable["query"])
                assert selector, variable["query"]
                exprs[f"{board['uid']} variable {variable['name']}"] = grafana_to_promql(selector.group(1))
    return exprs


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_every_expression_parses_as_promql(tree: dict[str, bytes]) -> None:
    exprs = all_expressions(tree)
    assert len(exprs) > 25
    for where, expr in exprs.items():
        try:
            promql_parser.parse(expr)
        except ValueError as exc:
            pytest.fail(f"{where}: {expr}: {exc}")
    with pytest.raises(ValueError, match="invalid promql"):
        promql_parser.parse("datasurface_stream_running{platform=~}")  # the parser does reject bad PromQL


def test_the_dashboard_has_platform_and_stream_variables_and_links_failures_to_argo(tree: dict[str, bytes]) -> None:
    (live, forensic) = sorted(dashboards(tree), key=lambda b: b["title"], reverse=True)
    assert live["title"] == "DataSurface / YellowLive" and live["uid"] != forensic["uid"]
    variables = {v["name"]: v for v in live["templating"]["list"]}
    assert variables["platform"]["current"]["value"] == "YellowLive" and variables["stream"]["multi"]
    titles = [p["title"] for p in live["panels"]]
    for wanted in (
        "Age of the last commit against the freshness target",
        "Batch duration",
        "Row changes per batch",
        "Success rate",
        "Failing streams",
        "Handler queue",
    ):
        assert wanted in titles
    failing = next(p for p in live["panels"] if p["title"] == "Failing streams")
    (link,) = failing["fieldConfig"]["defaults"]["links"]
    assert link["url"].startswith("https://argo-workflows.example.com/workflows/${__data.fields.namespace}")
    configmap = yaml.safe_load(tree["platforms/yellowlive/53-dashboard.yaml"])
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"


def scrape_names(url: str) -> set[str]:
    """Sample names a /metrics page exposes (families without samples by their declared type)."""
    body = httpx.get(url, timeout=30).text
    names = set()
    for family in text_string_to_metric_families(body):
        names |= {s.name for s in family.samples}
        suffixes = {"counter": ["_total"], "summary": ["_sum", "_count"], "histogram": ["_bucket", "_sum", "_count"]}
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    return names


@pytest.fixture
def exporter_names(postgres: PostgresServer, tmp_path: Path, tree: dict[str, bytes]) -> Iterator[set[str]]:
    """Both MVP streams run for real (their runs recorded) and delivered to Consumer2's database,
    then ``datasurface status --serve``."""
    require_logical_replication(postgres)
    stack = Stack(postgres, tmp_path)
    seed(stack)
    consumer_db = postgres.create_database("consumer_db")
    consumer_env = {CONSUMER_URLS_ENV: json.dumps({"consumer_db": postgres.url(consumer_db)})}
    for platform in ("YellowLive", "YellowForensic"):
        spec = mvp_spec(platform, consumer_database=True)
        reconciled = run_cli(
            "job",
            "reconcile-views",
            "--spec",
            str(stack.spec_file(spec)),
            "--merge-url",
            stack.merge_url,
            env=consumer_env,
        )
        assert reconciled.returncode == 0, reconciled.stdout
        code, outcome, err = stack.run(spec)
        assert code == 0 and outcome["outcome"] == "done", err
    deployment = tmp_path / "deployment"
    write_tree(tree, deployment)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "handler.cli",
            "status",
            "--serve",
            str(port),
            "--bind",
            "127.0.0.1",
            "--spec-dir",
            str(deployment),
            "--merge-url",
            stack.merge_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **consumer_env},
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: _answers(url), timeout=60, what="the exporter")
        delivered = "datasurface_consumer_last_commit_age_seconds"
        wait_until(lambda: delivered in scrape_names(url), timeout=60, what="the delivery to the consumer database")
        yield scrape_names(url)
    finally:
        process.terminate()
        process.wait(10)
        for (name,) in postgres.execute(consumer_db, "SELECT subname FROM pg_subscription"):
            postgres.execute(consumer_db, f'DROP SUBSCRIPTION "{name}"')


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_every_metric_used_is_one_the_exporter_or_the_handler_exposes(
    tree: dict[str, bytes], exporter_names: set[str], env: Env
) -> None:
    with ServerThread(create_app(env.config)) as service:
        merge_and_wait_for_deploy(env, service)
        handler_names = scrape_names(f"{service}/metrics")
    assert "datasurface_stream_last_commit_age_seconds" in exporter_names
    assert "datasurface_job_seconds_bucket" in handler_names
    used = {name for expr in all_expressions(tree).values() for name in metric_names(expr)}
    assert used - exporter_names - handler_names - PROMETHEUS_SERIES == set()


def test_exporter_metrics_are_all_documented(exporter_names: set[str]) -> None:
    operations = (REPO_ROOT / "docs" / "operations.md").read_text()
    families = {re.sub(r"_(total|sum|count|bucket)$", "", n) for n in exporter_names if n.startswith("datasurface_")}
    assert {f for f in families if f"`{f}" not in operations} == set()
