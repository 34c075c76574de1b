"""``datasurface demo``: the whole loop on one machine, narrated.

Embedded PostgreSQL -> producer database -> local git repos (model and deployment)
-> a good and a bad pull request validated -> merge -> deployment commit -> the local runner
executes the rendered workflows while the simulator changes the producer -> metrics and views.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import git
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from handler.cli.model_commands import MODEL_REPO_TEMPLATE
from handler.deploy import deploy_model_commit
from handler.gitrepo import DeployRepo
from handler.render import RenderOptions
from handler.reports import rollout_report
from handler.reports.findings_report import print_text
from handler.reports.validation_report import to_markdown
from handler.rollout.local import LocalBackend
from handler.rollout.model import RunState
from handler.rollout.tracker import check_rollout
from handler.validation import ChangeSource, validate
from pgtools.embedded import EmbeddedServer, start_embedded
from pgtools.urls import ensure_database, with_database
from simulator.producer import init_producer
from simulator.simulate import ChangeSimulator, SimulatorConfig
from workflows.consumer_status import collect_consumers, consumer_databases
from workflows.db import CONSUMER_URLS_ENV, database_at
from workflows.exporter import serve
from workflows.local_runner import Deployment, LocalRunner, Secrets, WorkflowRun
from workflows.pg import text
from workflows.status import recent_batches, specs_from

MODEL_REPO = "acme/datasurface-model"


def _run_state(run: WorkflowRun) -> RunState:
    """A local run as the rollout tracker reads an Argo Workflow."""
    return RunState(
        name=run.name,
        namespace=run.namespace,
        platform=run.labels.get("datasurface.io/platform", ""),
        stream=run.labels.get("datasurface.io/stream", ""),
        model_commit=run.labels.get("datasurface.io/model-commit", ""),
        phase=run.status,
        started_at=datetime.fromtimestamp(run.started, UTC).isoformat(),
        finished_at=datetime.fromtimestamp(run.finished, UTC).isoformat() if run.finished else "",
        message=run.failures[0]["message"] if run.failures else "",
        outputs=run.outputs,
    )


FAST_SCALE = 20.0  # live every 3 s, forensic every 30 s
NEW_COLUMN = 'DDLColumn("loyaltyTier", VarChar(20)),'


def _git(repo: git.Repo, *args: str) -> str:
    return str(repo.git.execute(["git", *args]))


class Demo:
    def __init__(self, workdir: Path, pg_url: str | None, fast: bool, duration: float, console: Console) -> None:
        self.workdir, self.pg_url, self.fast, self.duration, self.console = workdir, pg_url, fast, duration, console
        self.server: EmbeddedServer | None = None
        self.step = 0
        self.platforms: list[str] = []
        self.base_url = pg_url or ""
        self.deployment_dir: Path | None = None
        self.consumer_url = ""
        self.model_commit = self.deploy_commit = ""

    def say(self, title: str) -> None:
        self.step += 1
        self.console.rule(f"[bold]{self.step}. {title}")

    def run(self) -> list[WorkflowRun]:
        """Every step of the demo; returns the workflow runs of the local runner."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        source_url, merge_url = self.databases()
        model, work = self.repositories()
        self.pull_requests(model)
        runs = self.operate(self.merge_and_deploy(model, work), source_url, merge_url)
        self.monitoring(merge_url)
        self.show(merge_url, source_url)
        return runs

    def databases(self) -> tuple[str, str]:
        self.say("Databases")
        base = self.pg_url
        if base is None:
            # Left running after the demo so that you can query it; the next run reuses it.
            self.server = start_embedded(self.workdir / "pg", cleanup_mode=None)
            base = self.base_url = self.server.get_uri()
            self.console.print(f"embedded PostgreSQL in {self.workdir / 'pg'}")
        source_url, merge_url = with_database(base, "customer_db"), with_database(base, "datasurface_merge")
        counts = init_producer(source_url)
        ensure_database(merge_url)
        # Consumer2's own database; the model's address is the cluster's, so jobs and the exporter
        # are told where it is here (DATASURFACE_CONSUMER_URLS, as a local run's override).
        self.consumer_url = with_database(base, "consumer_db")
        ensure_database(self.consumer_url)
        os.environ[CONSUMER_URLS_ENV] = json.dumps({"consumer_db": self.consumer_url})
        self.console.print(
            f"producer database [cyan]customer_db[/]: {counts['customers']} customers, {counts['addresses']} addresses; "
            "merge database [cyan]datasurface_merge[/]; Consumer2's own database [cyan]consumer_db[/]"
        )
        return source_url, merge_url

    def repositories(self) -> tuple[git.Repo, git.Repo]:
        self.say("Git repositories")
        repos = self.workdir / "repos"
        shutil.rmtree(repos, ignore_errors=True)
        bare = git.Repo.init(repos / "model.git", bare=True, initial_branch="main")
        shutil.copytree(MODEL_REPO_TEMPLATE, repos / "model", ignore=shutil.ignore_patterns("__pycache__"))
        work = git.Repo.init(repos / "model", initial_branch="main")
        with work.config_writer() as config:
            config.set_value("user", "name", "Model Owner")
            config.set_value("user", "email", "owner@example.com")
        work.git.add("-A")
        work.index.commit("Initial model: the customer/address MVP")
        work.create_remote("origin", str(bare.working_dir)).push("main")
        git.Repo.init(repos / "deployment.git", bare=True, initial_branch="main")
        self.console.print(
            f"model repository {MODEL_REPO} (branches: main, zone-usa, team1) and an empty deployment repository in {repos}"
        )
        return bare, work

    def _validate(self, work: git.Repo, title: str) -> str:
        base_dir = self.workdir / "checkouts" / "base"
        shutil.rmtree(base_dir.parent, ignore_errors=True)
        base_dir.parent.mkdir(parents=True)
        _git(work, "worktree", "prune")
        _git(work, "worktree", "add", "--detach", str(base_dir), "main")
        result = validate(base_dir, Path(work.working_dir), ChangeSource(MODEL_REPO, "team1"))
        _git(work, "worktree", "remove", "--force", str(base_dir))
        self.console.print(
            Panel(
                Markdown(to_markdown(result)),
                title=f"bot comment on PR: {title}",
                border_style="green" if result.verdict == "pass" else "red",
            )
        )
        return result.verdict

    def pull_requests(self, model: git.Repo) -> None:
        work = git.Repo(self.workdir / "repos" / "model")
        self.say("A pull request that adds a nullable column")
        self.console.print("The producer added customers.loyaltyTier; team1 publishes it in the model.")
        work.git.checkout("-B", "team1", "main")
        eco = Path(work.working_dir) / "eco.py"
        eco.write_text(
            eco.read_text().replace(
                'DDLColumn("phone", VarChar(100)),',
                'DDLColumn("phone", VarChar(100)),\n                            ' + NEW_COLUMN,
            )
        )
        work.git.commit("-am", "Publish customers.loyaltyTier")
        good = self._validate(work, "add loyaltyTier")
        self.say("A pull request that drops a column")
        work.git.checkout("-B", "team1-drop", "main")
        eco.write_text(eco.read_text().replace('                            DDLColumn("phone", VarChar(100)),\n', ""))
        work.git.commit("-am", "Drop customers.phone")
        bad = self._validate(work, "drop phone")
        work.git.checkout("main")
        if good != "pass" or bad != "fail":
            raise RuntimeError(f"unexpected verdicts: add column {good}, drop column {bad}")

    def merge_and_deploy(self, model: git.Repo, work: git.Repo) -> Path:
        """Merge the good pull request and commit the rendered tree; returns the deployment checkout."""
        self.say("Merge and deploy")
        work.git.merge("--no-ff", "-m", "Merge pull request #1 from team1", "team1")
        work.remote("origin").push("main")
        sha = work.head.commit.hexsha
        source = database_at(with_database(self.base_url, "customer_db"), "datasurface-demo")
        with source.begin() as conn:  # the producer's column that the model now publishes
            conn.execute(text("ALTER TABLE customers ADD COLUMN IF NOT EXISTS loyaltyTier varchar(20)"))
        deployment_url = str(self.workdir / "repos" / "deployment.git")
        deploy = DeployRepo(self.workdir / "deploy-work", deployment_url, "main")
        outcome = deploy_model_commit(
            Path(work.working_dir), model, MODEL_REPO, sha, deploy, RenderOptions(repo_url=deployment_url)
        )
        if outcome.kind == "rejected":  # the model passed validation, so this is a bug of the demo itself
            print_text(self.console, outcome.detail, list(outcome.findings))
            raise RuntimeError(f"the merged model was not deployed: {outcome.detail}")
        self.platforms = sorted({spec.platform for spec in specs_from(deploy.path)})
        files = sum(1 for p in deploy.path.rglob("*") if p.is_file() and ".git" not in p.parts)
        self.model_commit, self.deploy_commit = sha, outcome.deploy_commit
        self.console.print(
            f"model commit {sha[:12]} -> deployment commit [bold]{outcome.deploy_commit[:12]}[/] ({files} files: CronWorkflows, WorkflowTemplates, ConfigMaps, Argo CD Applications)"
        )
        self.deployment_dir = deploy.path
        return deploy.path

    def operate(self, deploy_dir: Path, source_url: str, merge_url: str) -> list[WorkflowRun]:
        scale = FAST_SCALE if self.fast else 1.0
        self.say(
            f"Run: simulator + local runner for {self.duration:.0f} s"
            + (" (schedules 20x faster)" if self.fast else "")
        )
        secrets = Secrets(
            {
                name: {"username": "demo", "password": "demo"}
                for name in ("postgres-merge", "postgres-producer", "postgres-consumer")
            }
        )
        runner = LocalRunner(
            Deployment(deploy_dir),
            secrets,
            {
                "DATASURFACE_SOURCE_URL": source_url,
                "DATASURFACE_MERGE_URL": merge_url,
                CONSUMER_URLS_ENV: os.environ[CONSUMER_URLS_ENV],
            },
            self.workdir,
            scale,
        )
        simulator_log = (self.workdir / "simulator.log").open("w")
        simulator = ChangeSimulator(SimulatorConfig(source_url, seed=7, rate=4.0), out=simulator_log)
        sim_thread = threading.Thread(target=simulator.run, daemon=True)
        runner.run_hooks()
        for cron in runner.deployment.crons:  # as after the first sync: every stream once
            runner.run_cron(cron)
        self.rollout(runner, deploy_dir)
        sim_thread.start()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[batches]} runs"),
            TimeRemainingColumn(),
            console=self.console,
        ) as progress:
            task = progress.add_task("ingesting", total=self.duration, batches=len(runner.history))
            done = threading.Event()

            def schedule() -> None:
                runner.run_schedules(self.duration, done)
                done.set()

            scheduler = threading.Thread(target=schedule, daemon=True)
            started = time.monotonic()
            scheduler.start()
            while not done.wait(0.5):
                progress.update(
                    task, completed=min(self.duration, time.monotonic() - started), batches=len(runner.history)
                )
            progress.update(task, completed=self.duration, batches=len(runner.history))
        simulator.stop()
        sim_thread.join(30)
        for cron in runner.deployment.crons:  # a last batch after the producer went quiet
            runner.run_cron(cron)
        failed = [r for r in runner.history if r.status != "Succeeded"]
        self.console.print(
            f"{len(runner.history)} workflow runs, {len(failed)} failed; simulator log: {self.workdir / 'simulator.log'}"
        )
        for run in failed:
            for failure in run.failures or [{"displayName": run.name, "message": run.status}]:
                self.console.print(
                    f"  failed run {run.name}: {failure['displayName']}: {failure['message']}", markup=False
                )
        return runner.history

    def rollout(self, runner: LocalRunner, deploy_dir: Path) -> None:
        """The rollout comment on the merged pull request, as the service writes it: the same
        tracker, with the local runner as its Argo CD and Argo Workflows."""
        backend = LocalBackend(self.deploy_commit, lambda: [_run_state(run) for run in runner.history])
        report = check_rollout(backend, deploy_dir, self.model_commit, self.deploy_commit)
        self.console.print(
            Panel(
                Markdown(rollout_report.to_markdown(report)),
                title="bot comment on PR #1: rollout",
                border_style={"success": "green", "failure": "red"}.get(report.verdict, "yellow"),
            )
        )

    def monitoring(self, merge_url: str) -> None:
        """The status exporter the deployment runs per platform, started here on the demo's merge
        database and scraped once, as Prometheus would."""
        self.say("Monitoring: the status exporter")
        if self.deployment_dir is None:
            raise RuntimeError("the monitoring step needs the deployment step first")
        merge_db = database_at(merge_url, "datasurface-status")
        server, thread = serve(merge_db, specs_from(self.deployment_dir), 0, "127.0.0.1")
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=30) as response:
            samples = {
                (s.name, s.labels.get("platform", ""), s.labels.get("stream", "")): s.value
                for family in text_string_to_metric_families(response.read().decode())
                for s in family.samples
                if not {"outcome", "dataset", "workspace"} & set(s.labels)
            }
        server.shutdown()
        thread.join(5)
        self.console.print(
            f"scraped the status exporter at {url} (deployed per platform: platforms/<p>/50-status-exporter.yaml)"
        )
        table = Table(title="Freshness as exported: last commit age and target")
        for column in (
            "platform",
            "stream",
            "age",
            "target",
            "batches",
            "failing runs",
        ):
            table.add_column(column)
        for (name, platform, stream), target in sorted(samples.items()):
            if name != "datasurface_stream_freshness_target_seconds":
                continue
            age = samples.get(("datasurface_stream_last_commit_age_seconds", platform, stream))
            table.add_row(
                platform,
                stream,
                "never" if age is None else f"{age:.0f} s",
                f"{target:.0f} s",
                f"{samples.get(('datasurface_batch_duration_seconds_count', platform, stream), 0):.0f}",
                f"{samples.get(('datasurface_stream_consecutive_failed_runs', platform, stream), 0):.0f}",
            )
        self.console.print(table)
        self.console.print(
            "alerting rules: platforms/<p>/52-prometheusrule.yaml; Grafana dashboard: platforms/<p>/53-dashboard.yaml "
            "(docs/operations.md)"
        )

    def show_consumer_database(self, merge_url: str) -> None:
        """Consumer2's views, served by its own database: the same views, delivered by replication."""
        if self.deployment_dir is None:
            raise RuntimeError("the consumer database step needs the deployment step first")
        merge = database_at(merge_url, "datasurface-status")
        specs = specs_from(self.deployment_dir)
        consumer_dbs = consumer_databases("datasurface-demo")
        deadline = time.monotonic() + 30
        delivered = collect_consumers(merge, specs, consumer_dbs)
        while any(c.lag_seconds != 0.0 for c in delivered) and time.monotonic() < deadline:
            time.sleep(0.5)  # replication takes well under a second; the last batches may still be on the way
            delivered = collect_consumers(merge, specs, consumer_dbs)
        table = Table(title="Delivery to Consumer2's own database (consumer_db), by logical replication")
        for column in ("platform", "stream", "last batch there", "lag", "subscription"):
            table.add_column(column)
        for c in delivered:
            state = ("streaming" if c.replication_active else "not streaming") if c.reachable else f"{c.error}"
            lag = "-" if c.lag_seconds is None else f"{c.lag_seconds:.0f} s"
            table.add_row(c.platform, c.stream, str(c.last_batch or "-"), lag, state)
        self.console.print(table)
        consumer = database_at(self.consumer_url, "datasurface-demo")
        with consumer.connect() as conn:
            rows = conn.execute(
                text('SELECT id, "firstName", "lastName", email FROM consumer2.livedsg_customers ORDER BY id LIMIT 5')
            ).all()
            versions = conn.execute(text("SELECT count(*) FROM consumer2.forensicdsg_customers_history")).scalar()
        sample = Table(
            title=f"consumer2.livedsg_customers in consumer_db (first 5 rows; {versions} versions in its history)"
        )
        for column in ("id", "firstName", "lastName", "email"):
            sample.add_column(column)
        for row in rows:
            sample.add_row(*[str(v) for v in row])
        self.console.print(sample)

    def show(self, merge_url: str, source_url: str) -> None:
        self.say("What consumers see")
        merge_db = database_at(merge_url, "datasurface-demo")
        table = Table(title="Batch metrics (last 3 batches per platform)")
        for column in ("platform", "stream", "batch", "status", "dataset", "inserted", "updated", "deleted", "total"):
            table.add_column(column)
        for platform in self.platforms:
            for b in recent_batches(merge_db, platform, 3):
                table.add_row(
                    platform,
                    b.stream,
                    str(b.batch_id),
                    b.status,
                    b.dataset,
                    *(str(n) for n in (b.inserted, b.updated, b.deleted, b.total)),
                )
        self.console.print(table)
        with merge_db.connect() as conn:  # as a consumer: the workspace's views
            live = conn.execute(
                text(
                    'SELECT id, "firstName", "lastName", email, "loyaltyTier" FROM consumer1.livedsg_customers ORDER BY id LIMIT 5'
                )
            ).all()
            sample = Table(title="consumer1.livedsg_customers (live view, first 5 rows)")
            for column in ("id", "firstName", "lastName", "email", "loyaltyTier"):
                sample.add_column(column)
            for row in live:
                sample.add_row(*[str(v) for v in row])
            self.console.print(sample)
            busiest = conn.execute(
                text(
                    "SELECT id FROM consumer1.forensicdsg_customers_history GROUP BY id ORDER BY count(*) DESC, id LIMIT 1"
                )
            ).scalar()
            history = conn.execute(
                text(
                    "SELECT ds_surf_batch_in, ds_surf_batch_out, ds_surf_valid_from, email, phone FROM consumer1.forensicdsg_customers_history "
                    "WHERE id = :id ORDER BY ds_surf_batch_in"
                ),
                {"id": busiest},
            ).all()
            versions = Table(title=f"consumer1.forensicdsg_customers_history: customer {busiest}")
            for column in ("batch in", "batch out", "valid from", "email", "phone"):
                versions.add_column(column)
            for row in history:
                versions.add_row(*[str(v) if v is not None else "" for v in row])
            self.console.print(versions)
        self.show_consumer_database(merge_url)
        self.console.print(
            Panel(
                f'psql "{merge_url}"\n  SELECT * FROM consumer1.livedsg_customers;\n'
                "  SELECT * FROM consumer1.forensicdsg_customers_history WHERE id = 'C1' ORDER BY ds_surf_batch_in;\n"
                "  SELECT * FROM consumer1.forensicdsg_customers_history_as_of(now() - interval '1 minute');\n"
                f'psql "{self.consumer_url}"   (Consumer2\'s own database)\n'
                "  SELECT * FROM consumer2.livedsg_customers;\n"
                f'psql "{source_url}"   (the producer)\n'
                "The embedded PostgreSQL keeps running for you; `datasurface demo --clean` starts over.",
                title="Query it yourself",
            )
        )
        (self.workdir / "demo.json").write_text(
            json.dumps(
                {
                    "source_url": source_url,
                    "merge_url": merge_url,
                    "consumer_url": self.consumer_url,
                    "deployment": str(self.deployment_dir),
                }
            )
        )
