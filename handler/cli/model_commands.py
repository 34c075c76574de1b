"""Commands about the model itself: start one, lint it, validate a change, print it."""

from __future__ import annotations

import shutil
import sys
from importlib.resources import files
from pathlib import Path

import typer
from rich.console import Console

from handler import __version__
from handler.cli.common import (
    ALLOW_UNSANDBOXED,
    EXIT_CLEAN,
    EXIT_FINDINGS,
    fail,
    limits,
    load_or_exit,
    warn_unsandboxed,
)
from handler.reports.findings_report import OutputFormat

app = typer.Typer()

#: The model repository users start from (``datasurface init``), shipped inside the package.
MODEL_REPO_TEMPLATE = Path(str(files("handler") / "model_repo_template"))


@app.command("init")
def init_command(
    folder: Path = typer.Argument(..., help="New folder for the model repository (must not exist or be empty)."),
) -> None:
    """Start a model repository: the customer/address MVP model, its mapping file and its GitHub workflows."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise fail(f"{folder} exists and is not an empty folder; choose a new one")
    shutil.copytree(MODEL_REPO_TEMPLATE, folder, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    Console().print(
        f"model repository started in {folder}: edit eco.py, then `datasurface lint {folder}`; "
        "push it to GitHub and set up the workflows as .github/workflows/ describes",
        soft_wrap=True,
    )


@app.command("lint")
def lint_command(
    model_dir: Path = typer.Argument(..., help="Folder holding eco.py (and dsg_platform_mapping.json)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    timeout: float | None = typer.Option(None, help="Wall-clock limit for running the model, seconds."),
    allow_unsandboxed: bool = ALLOW_UNSANDBOXED,
) -> None:
    """Load the model in the sandbox and lint it. Exit 0 clean, 1 errors found, 2 could not run."""
    from handler.findings import has_errors
    from handler.lint import lint, sort_findings
    from handler.loading import load_model
    from handler.reports.findings_report import print_text, to_json, to_markdown

    if not model_dir.is_dir():
        raise fail(f"{model_dir} is not a folder")
    if not (model_dir / "eco.py").is_file():
        raise fail(f"{model_dir} has no eco.py; point at the folder of the model repository")
    result = load_model(model_dir, limits(timeout, allow_unsandboxed))
    warn_unsandboxed(result.unsandboxed)
    findings = list(result.findings)
    if result.ecosystem is not None:
        findings = sort_findings(findings + lint(result.ecosystem))
    title = f"lint {model_dir}"
    if format == OutputFormat.json:
        sys.stdout.write(to_json(findings))
    elif format == OutputFormat.markdown:
        sys.stdout.write(to_markdown(title, findings))
    else:
        print_text(Console(), title, findings)
        if result.stderr.strip() and has_errors(findings):
            Console(stderr=True).print(f"[dim]model output (stderr):[/dim]\n{result.stderr.rstrip()}")
    raise typer.Exit(EXIT_FINDINGS if has_errors(findings) else EXIT_CLEAN)


@app.command("validate")
def validate_command(
    base: Path = typer.Option(..., "--base", help="Checkout of the target branch (may be empty: initial check-in)."),
    head: Path = typer.Option(..., "--head", help="Checkout of the pull request's head."),
    source: str = typer.Option(
        ..., "--source", help="The change source: OWNER/REPO@BRANCH of the pull request's head."
    ),
    changed_files: list[str] | None = typer.Option(
        None, "--changed-files", help="Changed paths (repeat); default: from git, or by comparing the folders."
    ),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    out: Path | None = typer.Option(None, "--out", help="Write the report to this file instead of stdout."),
    timeout: float | None = typer.Option(None, help="Wall-clock limit for running each model, seconds."),
    allow_unsandboxed: bool = ALLOW_UNSANDBOXED,
    merge_queue: bool = typer.Option(
        False,
        "--merge-queue",
        help="HEAD is a merge queue's commit: check lint, compatibility and acceptance; the "
        "ownership of its pull requests was checked when each was validated.",
    ),
) -> None:
    """Decide whether HEAD may replace BASE. Exit 0 may merge, 1 errors found, 2 could not run."""
    from handler.reports import validation_report
    from handler.validation import ChangeSource, validate

    try:
        change_source = ChangeSource.parse(source)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not base.is_dir():
        raise fail(f"--base {base} is not a folder (use an empty folder for an initial check-in)")
    if not head.is_dir() or not (head / "eco.py").is_file():
        raise fail(f"--head {head} is not a model folder (no eco.py)")
    result = validate(
        base, head, change_source, changed_files, limits(timeout, allow_unsandboxed), check_ownership=not merge_queue
    )
    warn_unsandboxed(result.unsandboxed)
    if format == OutputFormat.text and out is None:
        validation_report.print_validation(Console(), result)
    elif format == OutputFormat.text and out is not None:
        with out.open("w") as stream:
            validation_report.print_validation(Console(file=stream, width=200), result)
    else:
        report = (
            validation_report.to_json(result) if format == OutputFormat.json else validation_report.to_markdown(result)
        )
        if out is not None:
            out.write_text(report)
        else:
            sys.stdout.write(report)
    raise typer.Exit(EXIT_FINDINGS if result.verdict == "fail" else EXIT_CLEAN)


@app.command("model-json")
def model_json_command(
    model_dir: Path = typer.Argument(..., help="Folder holding eco.py."),
    out: Path | None = typer.Option(None, help="Write to this file instead of stdout."),
    allow_unsandboxed: bool = ALLOW_UNSANDBOXED,
) -> None:
    """Print the model's canonical JSON (sorted, stable: byte-identical for the same model)."""
    data = load_or_exit(model_dir, allow_unsandboxed=allow_unsandboxed).to_canonical_json()
    if out is not None:
        out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data + b"\n")


@app.command("rules")
def rules_command() -> None:
    """Print the reference of every rule id (Markdown), as in docs/rules.md."""
    from handler.reports.rules_reference import rules_markdown

    sys.stdout.write(rules_markdown())


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(f"datasurface {__version__}")
