"""Commands that turn a model into a deployment: render, plan, deploy, and the job spec of a stream."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from handler.cli.common import (
    ALLOW_UNSANDBOXED,
    ARGO_UI_URL,
    EXIT_FINDINGS,
    MONITORING_LABELS,
    fail,
    key_values,
    limits,
    load_or_exit,
    warn_unsandboxed,
)
from handler.reports.findings_report import OutputFormat

app = typer.Typer()
job_app = typer.Typer()


@app.command("render")
def render_command(
    model: Path = typer.Option(..., "--model", help="Model folder (eco.py)."),
    out: Path = typer.Option(..., "--out", help="Deployment repository folder to write."),
    templates: Path | None = typer.Option(
        None, "--templates", help="Folder with your own argo/ and/or k8s/ templates."
    ),
    model_commit: str | None = typer.Option(
        None, "--model-commit", help="Model commit to record in labels and the manifest."
    ),
    image: str | None = typer.Option(None, "--image", help="Container image of the workflow steps."),
    repo_url: str | None = typer.Option(
        None, "--repo-url", help="Deployment repository URL for the Argo CD Applications."
    ),
    monitoring_label: list[str] | None = MONITORING_LABELS,
    argo_ui_url: str | None = ARGO_UI_URL,
    allow_unsandboxed: bool = ALLOW_UNSANDBOXED,
) -> None:
    """Render platform artifacts into the deployment tree (files of removed platforms and streams are deleted)."""
    import dataclasses

    from handler.lint import lint
    from handler.render import RenderOptions, render_tree, write_tree
    from handler.render.templates import Templates
    from handler.reports.findings_report import print_text

    eco = load_or_exit(model, allow_unsandboxed=allow_unsandboxed)
    lint_errors = [f for f in lint(eco) if f.is_error]
    if lint_errors:
        print_text(Console(stderr=True), f"lint {model}", lint_errors)
        raise typer.Exit(EXIT_FINDINGS)
    options = RenderOptions(monitoring_labels=key_values(monitoring_label, "--monitoring-label"))
    if argo_ui_url:
        options = dataclasses.replace(options, argo_ui_url=argo_ui_url)
    if model_commit:
        options = dataclasses.replace(options, model_commit=model_commit)
    if image:
        options = dataclasses.replace(options, image=image)
    if repo_url:
        options = dataclasses.replace(options, repo_url=repo_url)
    try:
        tree = render_tree(eco, options, Templates(templates))
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    written = write_tree(tree, out)
    Console().print(
        f"rendered {len(tree)} files into {out}: {len(written.written)} written, "
        f"{len(written.unchanged)} unchanged, {len(written.deleted)} deleted",
        soft_wrap=True,
    )


@app.command("deploy")
def deploy_command(
    model: Path = typer.Option(Path(), "--model", help="Model folder (a checkout of the model repository)."),
    deploy_repo: str = typer.Option(
        ..., "--deploy-repo", help="Deployment repository URL (credentials in the URL or git config)."
    ),
    branch: str = typer.Option("main", "--branch", help="Deployment branch."),
    model_commit: str | None = typer.Option(
        None, "--model-commit", help="Model commit being deployed (default: HEAD of --model)."
    ),
    model_repo: str | None = typer.Option(
        None, "--model-repo", help="owner/name of the model repository (default: $GITHUB_REPOSITORY)."
    ),
    work_dir: Path = typer.Option(
        Path(".datasurface-deploy"), "--work-dir", help="Where to keep the deployment clone."
    ),
    repo_url: str | None = typer.Option(None, "--repo-url", help="URL Argo CD syncs from (default: --deploy-repo)."),
    templates: Path | None = typer.Option(
        None, "--templates", help="Folder with your own argo/ and/or k8s/ templates."
    ),
    pull_request: int | None = typer.Option(
        None, "--pull-request", help="The pull request that merged the commit (runs link back to it)."
    ),
    monitoring_label: list[str] | None = MONITORING_LABELS,
    argo_ui_url: str | None = ARGO_UI_URL,
    allow_unsandboxed: bool = ALLOW_UNSANDBOXED,
) -> None:
    """Render the model and commit it to the deployment repository, exactly once per model commit."""
    import os

    import git

    from handler.deploy import DeployError, deploy_model_commit, local_model_git
    from handler.gitrepo import DeployRepo, without_credentials
    from handler.render import RenderOptions
    from handler.render.templates import Templates
    from handler.reports.findings_report import print_text

    if not (model / "eco.py").is_file():
        raise fail(f"{model} has no eco.py")
    try:
        model_git = local_model_git(model)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise fail(f"{model} is not inside a git checkout of the model repository") from None
    sha = model_commit or model_git.head.commit.hexsha
    name = model_repo or os.environ.get("GITHUB_REPOSITORY") or model.resolve().name
    # The URL Argo CD syncs from goes into the manifests: never with the push credentials.
    options = RenderOptions(
        repo_url=repo_url or without_credentials(deploy_repo),
        target_revision=branch,
        pull_request=pull_request,
        web_url=os.environ.get("GITHUB_SERVER_URL", "https://github.com"),
        argo_ui_url=argo_ui_url or RenderOptions.argo_ui_url,
        monitoring_labels=key_values(monitoring_label, "--monitoring-label"),
    )
    try:
        outcome = deploy_model_commit(
            model,
            model_git,
            name,
            sha,
            DeployRepo(work_dir, deploy_repo, branch),
            options,
            templates=Templates(templates) if templates else None,
            limits=limits(None, allow_unsandboxed),
        )
    except (DeployError, git.GitCommandError, FileNotFoundError) as exc:
        Console(stderr=True).print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    warn_unsandboxed(outcome.unsandboxed)
    if outcome.kind == "rejected":
        print_text(Console(stderr=True), f"{outcome.detail}: {model}", list(outcome.findings))
        raise typer.Exit(EXIT_FINDINGS)
    Console().print(f"{outcome.kind}: {outcome.detail}", soft_wrap=True, markup=False)


@app.command("plan")
def plan_command(
    base: Path = typer.Option(..., "--base", help="Model folder before the merge (may be empty)."),
    head: Path = typer.Option(..., "--head", help="Model folder after the merge."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f"),
    allow_unsandboxed: bool = ALLOW_UNSANDBOXED,
) -> None:
    """Show what a merge would add, change and remove in the deployment repository."""
    import msgspec

    from handler.render.preview import preview
    from handler.reports import preview_report

    if not base.is_dir():
        raise fail(f"--base {base} is not a folder")
    base_eco = load_or_exit(base, allow_unsandboxed=allow_unsandboxed) if (base / "eco.py").is_file() else None
    result = preview(base_eco, load_or_exit(head, allow_unsandboxed=allow_unsandboxed))
    if format == OutputFormat.json:
        sys.stdout.write(msgspec.json.encode(preview_report.to_dict(result)).decode() + "\n")
    elif format == OutputFormat.markdown:
        sys.stdout.write(preview_report.to_markdown(result))
    else:
        preview_report.print_preview(Console(), result)


@job_app.command("spec")
def spec_command(
    model: Path = typer.Option(..., "--model", help="Model folder (eco.py)."),
    platform: str = typer.Option(..., "--platform", help="Data platform name."),
    stream: str = typer.Option(
        ..., "--stream", help="Stream key (the datastore, or STORE_DATASET for single-dataset ingestion)."
    ),
    allow_unsandboxed: bool = ALLOW_UNSANDBOXED,
) -> None:
    """Print the job spec of one stream as JSON."""
    from handler.render.streams import platform_streams

    eco = load_or_exit(model, allow_unsandboxed=allow_unsandboxed)
    found = eco.getDataPlatform(platform)
    if found is None:
        raise fail(f"no data platform {platform!r}; platforms: {', '.join(sorted(p.name for p in eco.data_platforms))}")
    specs = {s.stream: s for s in platform_streams(eco, found)}
    if stream not in specs:
        raise fail(f"platform {platform!r} runs no stream {stream!r}; streams: {', '.join(sorted(specs)) or 'none'}")
    sys.stdout.write(specs[stream].spec_json)
