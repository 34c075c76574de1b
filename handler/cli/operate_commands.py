"""Commands that run the control plane: the webhook service and the demo."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from handler.cli.common import EXIT_CLEAN, EXIT_FINDINGS, fail

app = typer.Typer()


@app.command("serve")
def serve_command(
    config: Path | None = typer.Option(
        None, "--config", help="TOML config file; DATASURFACE_* environment variables override it."
    ),
    host: str = typer.Option("0.0.0.0", "--host"),  # noqa: S104 - a service in a pod listens on every interface
    port: int = typer.Option(8080, "--port"),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Run the webhook service: validate pull requests, deploy merges (see docs/service.md)."""
    import uvicorn

    from handler.service import logs
    from handler.service.app import create_app
    from handler.service.config import ConfigError, load_config

    try:
        service_config = load_config(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    logs.configure(log_level.upper())
    uvicorn.run(create_app(service_config), host=host, port=port, log_level=log_level.lower(), access_log=False)


@app.command("demo")
def demo_command(
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Work folder (default: the user's cache dir)/datasurface/demo)."
    ),
    pg_url: str | None = typer.Option(None, "--pg-url", help="Use this PostgreSQL server instead of the embedded one."),
    clean: bool = typer.Option(False, "--clean", help="Delete the work folder first (databases included)."),
    fast: bool = typer.Option(
        False, "--fast", help="Run the schedules 20x faster: live every 3 s, forensic every 30 s."
    ),
    duration: float = typer.Option(60.0, "--duration", help="Seconds the simulator and the local runner run."),
) -> None:
    """The whole loop on this machine: databases, repos, pull requests, merge, deploy, runs, views."""
    import platformdirs

    from handler.cli.demo import Demo

    folder = workdir or Path(platformdirs.user_cache_dir("datasurface")) / "demo"
    if clean and folder.exists():
        import shutil

        shutil.rmtree(folder)
    console = Console()
    started = time.monotonic()
    runs = Demo(folder, pg_url, fast, duration, console).run()
    failed = [r for r in runs if r.status != "Succeeded"]
    console.print(
        f"demo finished in {time.monotonic() - started:.0f} s; work folder {folder} (run again to reuse it, --clean to start over)",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_CLEAN)
