"""Commands that turn a model into a deployment: render, plan, deploy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from handler.cli_common import EXIT_FINDINGS, fail, load_or_exit
from handler.lint import lint
from handler.reports.findings_report import OutputFormat, print_text


def register(app: typer.Typer) -> None:
    for name, command in (("render", render_command), ("plan", plan_command), ("deploy", deploy_command)):
        app.command(name)(command)


def render_command(
    model: Path = typer.Option(..., "--model", help="Model folder (eco.py)."),
    out: Path = typer.Option(..., "--out", help="Deployment repository folder to write."),
    templates: Optional[Path] = typer.Option(None, "--templates", help="Folder with your own argo/ and k8s/ templates."),
    model_commit: Optional[str] = typer.Option(None, "--model-commit", help="Model commit to record in labels and the manifest."),
    image: Optional[str] = typer.Option(None, "--image", help="Container image of the workflow steps."),
    repo_url: Optional[str] = typer.Option(None, "--repo-url", help="Deployment repository URL for the Argo CD Applications."),
) -> None:
    """Render platform artifacts into the deployment tree (files of removed platforms and streams are deleted)."""
    from handler.render import RenderOptions, render_tree, write_tree
    from handler.render.templates import Templates

    eco = load_or_exit(model)
    lint_errors = [f for f in lint(eco) if f.is_error]
    if lint_errors:
        print_text(Console(stderr=True), f"lint {model}", lint_errors)
        raise typer.Exit(EXIT_FINDINGS)
    overrides = {k: v for k, v in {"model_commit": model_commit, "image": image, "repo_url": repo_url}.items() if v}
    try:
        tree = render_tree(eco, RenderOptions(**overrides), Templates(templates))  # type: ignore[arg-type]
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    written = write_tree(tree, out)
    Console().print(
        f"rendered {len(tree)} files into {out}: {len(written.written)} written, "
        f"{len(written.unchanged)} unchanged, {len(written.deleted)} deleted", soft_wrap=True,
    )


def deploy_command(
    model: Path = typer.Option(Path("."), "--model", help="Model folder (a checkout of the model repository)."),
    deploy_repo: str = typer.Option(..., "--deploy-repo", help="Deployment repository URL (credentials in the URL or git config)."),
    branch: str = typer.Option("main", "--branch", help="Deployment branch."),
    model_commit: Optional[str] = typer.Option(None, "--model-commit", help="Model commit being deployed (default: HEAD of --model)."),
    model_repo: Optional[str] = typer.Option(None, "--model-repo", help="owner/name of the model repository (default: $GITHUB_REPOSITORY)."),
    work_dir: Path = typer.Option(Path(".datasurface-deploy"), "--work-dir", help="Where to keep the deployment clone."),
    repo_url: Optional[str] = typer.Option(None, "--repo-url", help="URL Argo CD syncs from (default: --deploy-repo)."),
) -> None:
    """Render the model and commit it to the deployment repository, exactly once per model commit."""
    import os

    import git

    from handler.deploy import DeployError, commit_deployment, local_model_git
    from handler.gitrepo import DeployRepo
    from handler.render import RenderOptions, render_tree

    try:
        model_git = local_model_git(model)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise fail(f"{model} is not inside a git checkout of the model repository") from None
    sha = model_commit or model_git.head.commit.hexsha
    name = model_repo or os.environ.get("GITHUB_REPOSITORY") or model.resolve().name
    eco = load_or_exit(model)
    errors = [f for f in lint(eco) if f.is_error]
    if errors:
        print_text(Console(stderr=True), f"lint {model}", errors)
        raise typer.Exit(EXIT_FINDINGS)
    tree = render_tree(eco, RenderOptions(model_commit=sha, repo_url=repo_url or deploy_repo, target_revision=branch))
    author = git.Actor(os.environ.get("GIT_AUTHOR_NAME", "datasurface-bot"), os.environ.get("GIT_AUTHOR_EMAIL", "datasurface-bot@users.noreply.github.com"))
    try:
        outcome = commit_deployment(tree, name, sha, model_git, DeployRepo(work_dir, deploy_repo, branch), author)
    except (DeployError, git.GitCommandError) as exc:
        Console(stderr=True).print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    Console().print(f"{outcome.kind}: {outcome.detail}", soft_wrap=True, markup=False)


def plan_command(
    base: Path = typer.Option(..., "--base", help="Model folder before the merge (may be empty)."),
    head: Path = typer.Option(..., "--head", help="Model folder after the merge."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f"),
) -> None:
    """Show what a merge would add, change and remove in the deployment repository."""
    import msgspec

    from handler.render.preview import preview
    from handler.reports import preview_report

    if not base.is_dir():
        raise fail(f"--base {base} is not a folder")
    base_eco = load_or_exit(base) if (base / "eco.py").is_file() else None
    result = preview(base_eco, load_or_exit(head))
    if format == OutputFormat.json:
        sys.stdout.write(msgspec.json.encode(preview_report.to_dict(result)).decode() + "\n")
    elif format == OutputFormat.markdown:
        sys.stdout.write(preview_report.to_markdown(result))
    else:
        preview_report.print_preview(Console(), result)
