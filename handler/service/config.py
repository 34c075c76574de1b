"""Service configuration: environment variables and/or a TOML file (the environment wins).

| setting | environment variable | default |
|---|---|---|
| github_api_url | DATASURFACE_GITHUB_API_URL | https://api.github.com (GitHub Enterprise: https://HOST/api/v3) |
| github_token | DATASURFACE_GITHUB_TOKEN | - (or github_token_file) |
| github_app_id, github_app_private_key_file | DATASURFACE_GITHUB_APP_ID, DATASURFACE_GITHUB_APP_PRIVATE_KEY_FILE | - (GitHub App instead of a token) |
| webhook_secret | DATASURFACE_WEBHOOK_SECRET | required (or webhook_secret_file) |
| allowed_repos | DATASURFACE_ALLOWED_REPOS (comma-separated owner/name) | required |
| deploy_repo_url, deploy_branch | DATASURFACE_DEPLOY_REPO_URL, DATASURFACE_DEPLOY_BRANCH | required, main |
| work_dir | DATASURFACE_WORK_DIR | ./datasurface-work |
| state_db_url | DATASURFACE_STATE_DB_URL | sqlite:///<work_dir>/state.db (PostgreSQL by URL) |
| workers | DATASURFACE_WORKERS | 2 |
| allow_unsandboxed | DATASURFACE_ALLOW_UNSANDBOXED | false (true: run models without Landlock or seccomp, and say so in every report) |
| require_validated_deploys | DATASURFACE_REQUIRE_VALIDATED_DEPLOYS | true (deploy a merge only if its model was validated) |
| public_url | DATASURFACE_PUBLIC_URL | - (this service's address as GitHub users reach it: each commit status links to its job's page, PUBLIC_URL/jobs/ID) |
| track_rollouts | DATASURFACE_TRACK_ROLLOUTS | false (true: follow each deployment through Argo CD and its first workflow runs; status `datasurface/rollout` and a comment on the merged pull request) |
| kubeconfig, kube_context | DATASURFACE_KUBECONFIG, DATASURFACE_KUBE_CONTEXT | - (in-cluster service account, then ~/.kube/config) |
| argocd_namespace | DATASURFACE_ARGOCD_NAMESPACE | argocd |
| rollout_timeout, rollout_poll | DATASURFACE_ROLLOUT_TIMEOUT, DATASURFACE_ROLLOUT_POLL | 1800, 15 (seconds) |
| argocd_ui_url, argo_ui_url | DATASURFACE_ARGOCD_UI_URL, DATASURFACE_ARGO_UI_URL | - (links in the rollout status and comment) |
| monitoring_labels | DATASURFACE_MONITORING_LABELS (comma-separated key=value) | - (labels of the rendered ServiceMonitors and PrometheusRules, e.g. release=kube-prometheus-stack) |
| notify_url | DATASURFACE_NOTIFY_URL | - (or notify_url_file: a Slack-compatible webhook told of failed rollouts) |

Secrets can be given as files (``*_file``: a mounted Kubernetes secret) and are never logged.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from handler.deploy import BOT_EMAIL, BOT_NAME
from handler.loading import SandboxLimits

ENV_PREFIX = "DATASURFACE_"


class ConfigError(Exception):
    pass


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_token_file: Path | None = None
    github_app_id: int | None = None
    github_app_private_key_file: Path | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None
    allowed_repos: list[str] = Field(default_factory=list)
    deploy_repo_url: str
    deploy_branch: str = "main"
    work_dir: Path = Path("datasurface-work")
    state_db_url: str | None = None
    workers: int = 2
    public_url: str | None = None
    # Model code runs only in the full sandbox; True runs it without (every report says so).
    allow_unsandboxed: bool = False
    # Deploy a merge only when its model is one a validation of that tree judged and passed.
    require_validated_deploys: bool = True
    git_author_name: str = BOT_NAME
    git_author_email: str = BOT_EMAIL
    # Rollout feedback: read-only access to Argo CD Applications and Argo Workflows.
    track_rollouts: bool = False
    kubeconfig: str | None = None
    kube_context: str | None = None
    argocd_namespace: str = "argocd"
    rollout_timeout: float = Field(1800.0, gt=0)
    rollout_poll: float = Field(15.0, gt=0)
    argocd_ui_url: str | None = None
    argo_ui_url: str | None = None
    # Labels a Prometheus selects the rendered ServiceMonitors and PrometheusRules by.
    monitoring_labels: dict[str, str] = Field(default_factory=dict)
    # A Slack-compatible webhook told of failed rollouts (the workflows' own failure messages use the same format).
    notify_url: SecretStr | None = None
    notify_url_file: Path | None = None

    @model_validator(mode="after")
    def _secrets_from_files(self) -> ServiceConfig:
        if self.webhook_secret is None and self.webhook_secret_file is not None:
            self.webhook_secret = SecretStr(self.webhook_secret_file.read_text().strip())
        if self.notify_url is None and self.notify_url_file is not None:
            self.notify_url = SecretStr(self.notify_url_file.read_text().strip())
        if self.github_token is None and self.github_token_file is not None:
            self.github_token = SecretStr(self.github_token_file.read_text().strip())
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise ValueError("webhook_secret is required: unsigned webhooks are never accepted")
        if not self.allowed_repos:
            raise ValueError("allowed_repos is required: the model repositories this service serves")
        return self

    def job_url(self, job_id: int) -> str | None:
        """The page of a job on this service (a status's ``target_url``); None without ``public_url``."""
        return f"{self.public_url.rstrip('/')}/jobs/{job_id}" if self.public_url else None

    def sandbox_limits(self) -> SandboxLimits:
        limits = SandboxLimits.from_env()
        return dataclasses.replace(limits, allow_unsandboxed=True) if self.allow_unsandboxed else limits

    @property
    def web_url(self) -> str:
        """GitHub's web address for this API: github.com, or the GitHub Enterprise host."""
        api = self.github_api_url.rstrip("/")
        return "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")

    @property
    def state_url(self) -> str:
        return self.state_db_url or f"sqlite:///{(self.work_dir / 'state.db').resolve()}"


_LIST_FIELDS = {"allowed_repos"}
_MAP_FIELDS = {"monitoring_labels"}


def _parse(name: str, raw: str) -> Any:
    """An environment variable's value: comma-separated lists and key=value maps, else as is."""
    if name in _LIST_FIELDS:
        return [r.strip() for r in raw.split(",") if r.strip()]
    if name in _MAP_FIELDS:
        pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} takes key=value pairs separated by commas")
        return {key.strip(): value.strip() for key, value in pairs}
    return raw


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    for name in ServiceConfig.model_fields:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _parse(name, raw)
    try:
        return ServiceConfig(**values)
    except (ValidationError, OSError) as exc:
        raise ConfigError(f"invalid service configuration: {exc}") from exc
