"""The simulator's commands: ``producer init`` and ``simulate``. Mounted into ``datasurface`` by ``handler.cli``."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer()


producer_app = typer.Typer(help="The MVP producer database (customers and addresses).", no_args_is_help=True)
app.add_typer(producer_app, name="producer")


@producer_app.command("init")
def producer_init_command(
    db: str = typer.Option(..., "--db", help="Producer database URL (libpq form); created when missing."),
    drop: bool = typer.Option(False, "--drop", help="Drop the tables first and start from the seed data."),
) -> None:
    """Create the customers and addresses tables and seed 5 customers with 8 addresses (idempotent)."""
    from sqlalchemy.exc import SQLAlchemyError

    from pgtools.urls import DatabaseURLError
    from simulator.producer import init_producer

    try:
        counts = init_producer(db, drop)
    except DatabaseURLError as exc:
        raise typer.BadParameter(str(exc), param_hint="--db") from None
    except SQLAlchemyError as exc:
        Console(stderr=True).print(
            f"error: cannot initialise the producer database: {exc}", soft_wrap=True, markup=False
        )
        raise typer.Exit(1) from None
    Console().print(
        f"producer database ready: {counts['customers']} customers, {counts['addresses']} addresses", soft_wrap=True
    )


@app.command("simulate")
def simulate_command(
    db: str = typer.Option(..., "--db", help="Producer database URL (libpq form)."),
    seed: int | None = typer.Option(None, "--seed", help="Make the run reproducible: same operations, same values."),
    max_changes: int | None = typer.Option(None, "--max-changes", help="Stop after this many changes."),
    min_interval: float = typer.Option(1.0, "--min-interval", help="Shortest pause between changes, seconds."),
    max_interval: float = typer.Option(5.0, "--max-interval", help="Longest pause between changes, seconds."),
    rate: float | None = typer.Option(None, "--rate", help="Changes per second (instead of random pauses)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the values of each change."),
    json_lines: bool = typer.Option(False, "--json", help="One JSON object per line."),
    max_failures: int = typer.Option(10, "--max-failures", help="Give up after this many failed attempts in a row."),
) -> None:
    """Change the producer database like a business: new customers, new and changed addresses, ...

    Stops after --max-changes, or cleanly on Ctrl-C / SIGTERM, and prints a summary.
    Exit 1 when the database stayed unavailable for --max-failures attempts.
    """
    from simulator.simulate import ChangeSimulator, SimulatorConfig

    if min_interval < 0 or max_interval < min_interval or (rate is not None and rate <= 0):
        raise typer.BadParameter(
            "intervals must satisfy 0 <= --min-interval <= --max-interval, and --rate must be positive"
        )
    try:
        simulator = ChangeSimulator(
            SimulatorConfig(db, seed, max_changes, min_interval, max_interval, rate, json_lines, verbose, max_failures)
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--db") from None
    summary = simulator.run()
    raise typer.Exit(1 if summary.gave_up else 0)
