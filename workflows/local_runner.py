"""Run a rendered deployment tree on one machine: Argo CronWorkflows and WorkflowTemplates as
local processes. A single-machine default, not a replacement for Argo.

It resolves ``workflowTemplateRef``, runs ``steps`` and ``container`` templates (containers as
local ``datasurface ...`` processes, their volume mounts and ``/tmp`` paths mapped to a run
folder, ``secretKeyRef`` env from a local secrets file or the environment), ``when`` conditions
on outputs, ``withItems``, output parameters and ``globalName``, ``retryStrategy`` limits, the
transient-only expression and backoff, ``activeDeadlineSeconds``, the ``onExit`` handler,
``synchronization.mutexes`` and ``concurrencyPolicy: Forbid``; and runs each CronWorkflow on
its schedule. Anything in a manifest it does not know is an error, so a successful local run
shows the rendered artifacts are executable as written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from workflows.argo_expr import condition, evaluate, substitute


class UnsupportedManifestError(Exception):
    """The rendered manifests use something the local runner does not implement."""


def _check_keys(where: str, obj: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(obj) - allowed
    if unknown:
        raise UnsupportedManifestError(f"{where}: the local runner does not support {sorted(unknown)}")


_WF_SPEC = {
    "entrypoint",
    "serviceAccountName",
    "onExit",
    "activeDeadlineSeconds",
    "podGC",
    "ttlStrategy",
    "arguments",
    "volumes",
    "templates",
    "workflowTemplateRef",
    "synchronization",
}
_TEMPLATE = {"name", "inputs", "outputs", "steps", "container", "retryStrategy"}
_STEP = {"name", "template", "arguments", "when", "withItems"}
_CONTAINER = {"image", "imagePullPolicy", "command", "args", "env", "resources", "volumeMounts", "securityContext"}
_CRON_SPEC = {
    "schedules",
    "timezone",
    "concurrencyPolicy",
    "startingDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "workflowMetadata",
    "workflowSpec",
}


@dataclass
class StepRecord:
    template: str
    command: list[str]
    exit_code: int
    attempts: int
    outputs: dict[str, str]
    log: str


@dataclass
class WorkflowRun:
    name: str
    status: str  # Succeeded | Failed | Error
    steps: list[StepRecord] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    finished: float = 0.0
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # as Argo labels a run (the CronWorkflow's workflowMetadata)
    outputs: dict[str, str] = field(default_factory=dict)  # the workflow's global output parameters


@dataclass
class Secrets:
    """Kubernetes secrets for local runs: ``{secret: {key: value}}`` from a JSON file, falling
    back to environment variables named ``<SECRET>_<KEY>`` (upper case, ``-`` as ``_``)."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> Secrets:
        return cls(json.loads(path.read_text()) if path else {})

    def get(self, name: str, key: str) -> str | None:
        if key in self.values.get(name, {}):
            return self.values[name][key]
        return os.environ.get(f"{name}_{key}".upper().replace("-", "_").replace(".", "_"))


class Deployment:
    """The Argo objects and ConfigMaps of a rendered deployment tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[tuple[str, str], dict[str, Any]] = {}
        self.crons: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.configmaps: dict[tuple[str, str], dict[str, str]] = {}
        platforms = root / "platforms"
        if not platforms.is_dir():
            raise UnsupportedManifestError(f"{root} has no platforms/ folder: is it a rendered deployment tree?")
        for path in sorted(platforms.rglob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if not doc:
                    continue
                meta = doc.get("metadata", {})
                key = (meta.get("namespace", "default"), meta.get("name", ""))
                kind = doc.get("kind")
                if kind == "WorkflowTemplate":
                    self.templates[key] = doc
                elif kind == "CronWorkflow":
                    self.crons.append(doc)
                elif kind == "Workflow":
                    self.hooks.append(doc)
                elif kind == "ConfigMap":
                    self.configmaps[key] = doc.get("data", {})


def check(deployment: Deployment) -> None:
    """Refuse, before running anything, every manifest field the runner would not honour."""
    specs = [(f"WorkflowTemplate {n}", t["spec"]) for (_ns, n), t in deployment.templates.items()]
    specs += [(f"Workflow {h['metadata']['name']}", h["spec"]) for h in deployment.hooks]
    for cron in deployment.crons:
        _check_keys(f"CronWorkflow {cron['metadata']['name']}", cron["spec"], _CRON_SPEC)
        specs.append((f"CronWorkflow {cron['metadata']['name']}", cron["spec"]["workflowSpec"]))
    for where, spec in specs:
        _check_keys(where, spec, _WF_SPEC)
        for volume in spec.get("volumes", []):
            _check_keys(f"{where} volume {volume.get('name')}", volume, {"name", "configMap", "projected"})
            for source in (volume.get("projected") or {}).get("sources", []):
                _check_keys(f"{where} volume {volume.get('name')} source", source, {"configMap"})
        for template in spec.get("templates", []):
            name = f"{where} template {template.get('name')}"
            _check_keys(name, template, _TEMPLATE)
            for group in template.get("steps", []):
                for step in group:
                    _check_keys(f"{name} step {step.get('name')}", step, _STEP)
            if "container" in template:
                _check_keys(f"{name} container", template["container"], _CONTAINER)
            elif "steps" not in template:
                raise UnsupportedManifestError(f"{name}: only steps and container templates are supported")
            retry = template.get("retryStrategy") or {}
            _check_keys(f"{name} retryStrategy", retry, {"limit", "retryPolicy", "expression", "backoff"})
            if retry.get("retryPolicy", "OnFailure") != "OnFailure":
                raise UnsupportedManifestError(f"{name} retryStrategy: only retryPolicy OnFailure is supported")


class LocalRunner:
    def __init__(
        self,
        deployment: Deployment,
        secrets: Secrets,
        env: dict[str, str],
        work_dir: Path,
        time_scale: float = 1.0,
        echo: Callable[[str], None] = lambda _m: None,
    ) -> None:
        check(deployment)
        self.deployment = deployment
        self.secrets = secrets
        self.env = env
        self.work_dir = work_dir
        self.time_scale = time_scale
        self.echo = echo
        self.mutexes: dict[str, threading.Lock] = {}
        self.mutex_guard = threading.Lock()
        self.running: set[str] = set()
        self.history: list[WorkflowRun] = []

    # --- workflows --------------------------------------------------------------------------

    def run_workflow(
        self, name: str, namespace: str, spec: dict[str, Any], labels: dict[str, str] | None = None
    ) -> WorkflowRun:
        """Run one workflow to its end (manifests were checked when the runner was made)."""
        merged = dict(spec)
        ref = spec.get("workflowTemplateRef")
        if ref:
            _check_keys(f"workflow {name} workflowTemplateRef", ref, {"name"})
            template = self.deployment.templates.get((namespace, ref["name"]))
            if template is None:
                raise UnsupportedManifestError(f"workflow {name}: WorkflowTemplate {namespace}/{ref['name']} not found")
            merged = {**template["spec"], **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}
        run = WorkflowRun(name, "Running", namespace=namespace, labels=dict(labels or {}))
        lock = None
        for mutex in (merged.get("synchronization") or {}).get("mutexes", []):
            with self.mutex_guard:
                lock = self.mutexes.setdefault(mutex["name"], threading.Lock())
        if lock:
            lock.acquire()
        try:
            self._execute(run, namespace, merged)
        finally:
            if lock:
                lock.release()
        run.finished = time.time()
        self.history.append(run)
        return run

    def _execute(self, run: WorkflowRun, namespace: str, spec: dict[str, Any]) -> None:
        templates = {t["name"]: t for t in spec["templates"]}
        params = {p["name"]: str(p.get("value", "")) for p in (spec.get("arguments") or {}).get("parameters", [])}
        values: dict[str, str] = {f"workflow.parameters.{k}": v for k, v in params.items()}
        values.update({"workflow.name": run.name, "workflow.namespace": namespace})
        folder = Path(tempfile.mkdtemp(prefix=f"{run.name}-", dir=self.work_dir))
        mounts = self._volumes(spec.get("volumes", []), namespace, folder)
        deadline = time.monotonic() + float(spec.get("activeDeadlineSeconds", 24 * 3600)) / self.time_scale
        context = _Context(templates, values, mounts, folder, deadline, run)
        try:
            ok = self._template(context, spec["entrypoint"], {})
            run.status = "Succeeded" if ok else "Failed"
        except subprocess.TimeoutExpired:
            run.status = "Failed"
            run.failures.append({"displayName": run.name, "message": "activeDeadlineSeconds exceeded"})
        if spec.get("onExit"):
            values.update({"workflow.status": run.status, "workflow.failures": json.dumps(run.failures)})
            for template in spec["templates"]:  # a global output no step set is empty, as in Argo
                for param in (template.get("outputs") or {}).get("parameters", []):
                    if param.get("globalName"):
                        values.setdefault(f"workflow.outputs.parameters.{param['globalName']}", "")
            self._template(context, spec["onExit"], {})
        prefix = "workflow.outputs.parameters."
        run.outputs = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
        shutil.rmtree(folder, ignore_errors=True)

    def _volumes(self, volumes: list[dict[str, Any]], namespace: str, folder: Path) -> dict[str, Path]:
        mounts: dict[str, Path] = {}
        for volume in volumes:
            sources = [{"configMap": volume["configMap"]}] if "configMap" in volume else volume["projected"]["sources"]
            target = folder / "volumes" / volume["name"]
            target.mkdir(parents=True)
            for source in sources:
                data = self.deployment.configmaps.get((namespace, source["configMap"]["name"]))
                if data is None:
                    raise UnsupportedManifestError(f"ConfigMap {namespace}/{source['configMap']['name']} not found")
                for key, text in data.items():
                    (target / key).write_text(text)
            mounts[volume["name"]] = target
        return mounts

    def _template(self, ctx: _Context, name: str, inputs: dict[str, str]) -> bool:
        template = ctx.templates.get(name)
        if template is None:
            raise UnsupportedManifestError(f"template {name} not found")
        declared = {p["name"]: p.get("value") for p in (template.get("inputs") or {}).get("parameters", [])}
        local = dict(ctx.values)
        for pname, default in declared.items():
            if pname not in inputs and default is None:
                raise UnsupportedManifestError(f"template {name}: input {pname} not given")
            local[f"inputs.parameters.{pname}"] = inputs.get(pname, default)
        if "steps" in template:
            return self._steps(ctx, template, local)
        return self._container(ctx, template, local)

    def _steps(self, ctx: _Context, template: dict[str, Any], local: dict[str, str]) -> bool:
        for group in template["steps"]:
            for step in group:  # parallel groups run one after the other here; our templates need no parallelism
                items = step.get("withItems", [None])
                for item in items:
                    scope = dict(local)
                    if item is not None:
                        scope["item"] = str(item)
                    if "when" in step and not condition(substitute(step["when"], scope)):
                        continue
                    arguments = {
                        p["name"]: substitute(str(p["value"]), scope)
                        for p in (step.get("arguments") or {}).get("parameters", [])
                    }
                    ok = self._template(ctx, step["template"], arguments)
                    for key, value in ctx.last_outputs.items():
                        local[f"steps.{step['name']}.outputs.parameters.{key}"] = value
                    if not ok:
                        return False
        return True

    def _container(self, ctx: _Context, template: dict[str, Any], local: dict[str, str]) -> bool:
        container = template["container"]
        step_dir = Path(tempfile.mkdtemp(prefix=f"{template['name']}-", dir=ctx.folder))
        paths = {m["mountPath"]: ctx.mounts[m["name"]] for m in container.get("volumeMounts", [])}
        paths["/tmp"] = step_dir  # noqa: S108 - the container path, mapped to a private folder

        def local_path(text: str) -> str:
            for prefix, target in sorted(paths.items(), key=lambda p: -len(p[0])):
                if text == prefix or text.startswith(prefix + "/"):
                    return str(target) + text[len(prefix) :]
            return text

        command = [substitute(str(c), local) for c in container.get("command", [])] + [
            local_path(substitute(str(a), local)) for a in container.get("args", [])
        ]
        if command and command[0] == "datasurface":
            command[0] = str(Path(sys.executable).parent / "datasurface")
        env = {**os.environ, **self.env}
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = substitute(str(var["value"]), local)
                continue
            ref = var["valueFrom"]["secretKeyRef"]
            secret = substitute(str(ref["name"]), local)  # a stream's secret arrives as a parameter
            value = self.secrets.get(secret, ref["key"])
            if value is None and not ref.get("optional"):
                raise UnsupportedManifestError(
                    f"secret {secret} key {ref['key']} is not in the local secrets file or environment"
                )
            if value is not None:
                env[var["name"]] = value
        retry = template.get("retryStrategy") or {}
        limit = int(retry.get("limit", 0))
        backoff = retry.get("backoff") or {}
        delay = _seconds(backoff.get("duration", "0s"))
        attempts = 0
        while True:
            attempts += 1
            remaining = max(1.0, ctx.deadline - time.monotonic())
            process = subprocess.run(command, env=env, capture_output=True, text=True, timeout=remaining, check=False)
            code = process.returncode
            retryable = (
                code != 0
                and attempts <= limit
                and (
                    not retry.get("expression")
                    or evaluate(retry["expression"], {"lastRetry.exitCode": str(code)}) is True
                )
            )
            if not retryable:
                break
            self.echo(f"  retry {attempts}/{limit} of {template['name']} after exit code {code}")
            time.sleep(min(delay, _seconds(backoff.get("maxDuration", "10m"))) / self.time_scale)
            delay *= float(backoff.get("factor", 1))
        outputs: dict[str, str] = {}
        for param in (template.get("outputs") or {}).get("parameters", []):
            source = param["valueFrom"]
            path = Path(local_path(source["path"]))
            outputs[param["name"]] = path.read_text().strip() if path.exists() else str(source.get("default", ""))
            if param.get("globalName"):
                ctx.values[f"workflow.outputs.parameters.{param['globalName']}"] = outputs[param["name"]]
        ctx.last_outputs = outputs
        log = (process.stdout + process.stderr)[-4000:]
        ctx.run.steps.append(StepRecord(template["name"], command, code, attempts, outputs, log))
        if code != 0:
            ctx.run.failures.append(
                {
                    "displayName": template["name"],
                    "message": (process.stderr.strip().splitlines() or [f"exit code {code}"])[-1],
                }
            )
        return code == 0

    # --- schedules ----------------------------------------------------------------------------

    def run_cron(self, cron: dict[str, Any]) -> WorkflowRun | None:
        meta, spec = cron["metadata"], cron["spec"]
        if spec.get("concurrencyPolicy", "Allow") == "Forbid":
            with self.mutex_guard:
                if meta["name"] in self.running:
                    return None
                self.running.add(meta["name"])
        try:
            name = f"{meta['name']}-{int(time.time() * 1000)}"
            labels = (spec.get("workflowMetadata") or {}).get("labels") or {}
            return self.run_workflow(name, meta.get("namespace", "default"), spec["workflowSpec"], labels)
        finally:
            self.running.discard(meta["name"])

    def run_hooks(self) -> list[WorkflowRun]:
        """Argo CD PostSync hooks (the view-reconcile workflows), as after a sync."""
        return [
            self.run_workflow(h["metadata"]["name"], h["metadata"].get("namespace", "default"), h["spec"])
            for h in self.deployment.hooks
        ]

    def run_schedules(
        self,
        duration: float,
        stop: threading.Event | None = None,
        on_run: Callable[[WorkflowRun], None] = lambda _r: None,
    ) -> None:
        """Fire every CronWorkflow on its schedule for ``duration`` seconds (a clock ``time_scale`` times faster)."""
        stop = stop or threading.Event()
        start_real = time.monotonic()
        start_virtual = datetime.now(UTC)
        threads = [
            threading.Thread(
                target=self._cron_loop, args=(c, start_real, start_virtual, duration, stop, on_run), daemon=True
            )
            for c in self.deployment.crons
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _cron_loop(
        self,
        cron: dict[str, Any],
        start_real: float,
        start_virtual: datetime,
        duration: float,
        stop: threading.Event,
        on_run: Callable[[WorkflowRun], None],
    ) -> None:
        schedules = [croniter(s, start_virtual) for s in cron["spec"]["schedules"]]
        next_fire = min(s.get_next(datetime) for s in schedules)
        while not stop.is_set():
            wait = (next_fire - start_virtual).total_seconds() / self.time_scale - (time.monotonic() - start_real)
            if time.monotonic() - start_real + max(wait, 0) >= duration:
                return
            if wait > 0 and stop.wait(wait):
                return
            run = self.run_cron(cron)
            if run is not None:
                on_run(run)
            now_virtual = start_virtual + _virtual_elapsed(start_real, self.time_scale)
            for s in schedules:
                s.set_current(now_virtual)
            next_fire = min(s.get_next(datetime) for s in schedules)


@dataclass
class _Context:
    templates: dict[str, dict[str, Any]]
    values: dict[str, str]
    mounts: dict[str, Path]
    folder: Path
    deadline: float
    run: WorkflowRun
    last_outputs: dict[str, str] = field(default_factory=dict)


def _virtual_elapsed(start_real: float, scale: float) -> timedelta:
    return timedelta(seconds=(time.monotonic() - start_real) * scale)


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    text = str(text).strip()
    return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text or 0)
