"""The data plane's steps, the commands rendered workflows run: ``datasurface job snapshot-merge``,
``reset-batch``, ``reconcile-views`` and ``notify``.

A workflow pod runs one step per batch, so a step's start-up is paid by every batch
(docs/snapshot-merge.md). Their command line is therefore the standard library's ``argparse``,
not Typer (whose import alone was a fifth of a step's start-up), and each step imports what it
runs when it runs. ``handler.cli.main`` calls ``run`` before anything else is imported;
``workflows/cli.py`` lists the steps in ``datasurface job --help``.

Exit codes are the steps' contract with Argo (``workflows/outcome.py``); a usage error exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from workflows.outcome import EXIT_DONE, EXIT_PERMANENT
from workflows.spec import JobSpec, SpecError


class StepError(Exception):
    """A step that cannot run: printed as ``error: ...``, exit code ``code``."""

    def __init__(self, message: str, code: int = EXIT_PERMANENT) -> None:
        super().__init__(message)
        self.code = code


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def read_spec(path: Path) -> JobSpec:
    """The job spec at ``path``; an unreadable or invalid spec ends the step as a permanent error."""
    try:
        return JobSpec.from_json(path.read_bytes())
    except (OSError, SpecError) as exc:
        raise StepError(f"cannot use job spec {path}: {exc}") from None


def snapshot_merge(args: argparse.Namespace) -> int:
    from workflows.snapshot_merge import run_snapshot_merge

    outcome = run_snapshot_merge(read_spec(args.spec), args.source_url, args.merge_url, args.max_seconds, args.parallel)
    if outcome.error:
        _error(outcome.error)
    print(outcome.line(), flush=True)
    if args.outcome_dir is not None:
        outcome.write_files(args.outcome_dir)
        if outcome.outcome == "keep_working":
            return EXIT_DONE
    return outcome.exit_code


def reset_batch(args: argparse.Namespace) -> int:
    from workflows.batch import BatchStateError
    from workflows.db import ConfigurationError
    from workflows.snapshot_merge import reset_batch

    try:
        print(reset_batch(read_spec(args.spec), args.merge_url, args.dataset), flush=True)
    except (BatchStateError, ConfigurationError) as exc:
        raise StepError(str(exc)) from None
    return EXIT_DONE


def reconcile_views(args: argparse.Namespace) -> int:
    from workflows.db import ConfigurationError, is_transient
    from workflows.outcome import EXIT_TRANSIENT
    from workflows.views import reconcile_views

    try:
        results = reconcile_views(read_spec(args.spec), args.merge_url)
    except ConfigurationError as exc:
        raise StepError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the database itself failed: tell Argo whether to retry
        raise StepError(
            f"{type(exc).__name__}: {exc}", EXIT_TRANSIENT if is_transient(exc) else EXIT_PERMANENT
        ) from None
    for result in results:
        mark = "ok    " if result.ok else "FAILED"
        print(f"{mark} {result.name}" + (f": {result.message}" if result.message else ""))
    failed = sum(1 for r in results if not r.ok)
    print(f"{len(results) - failed} reconciled, {failed} failed", flush=True)
    return EXIT_PERMANENT if failed else EXIT_DONE


def notify(args: argparse.Namespace) -> int:
    from workflows import notify

    outcome = notify.send(
        notify.failure_message(args.platform, args.stream, args.batch, args.status, args.failures, args.link)
    )
    print(outcome, file=sys.stderr, flush=True)
    return EXIT_DONE


def _parallel(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 32:
        raise argparse.ArgumentTypeError(f"{value} is not in the range 1 to 32")
    return number


def _with_spec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, required=True, metavar="FILE", help="Job spec JSON of the stream.")


def _merge_url(parser: argparse.ArgumentParser, default: str = "the spec") -> None:
    parser.add_argument(
        "--merge-url", metavar="URL", help=f"Merge database URL (default: from {default}; env DATASURFACE_MERGE_URL)."
    )


def _snapshot_merge_options(parser: argparse.ArgumentParser) -> None:
    _with_spec(parser)
    parser.add_argument(
        "--source-url",
        metavar="URL",
        help="Producer database URL (default: from the spec and credentials; env DATASURFACE_SOURCE_URL).",
    )
    _merge_url(parser, "the spec and credentials")
    parser.add_argument(
        "--max-seconds",
        type=float,
        metavar="N",
        help="Stop between ingestion and the merge after this long; report keep_working.",
    )
    parser.add_argument(
        "--outcome-dir", type=Path, metavar="DIR", help="Also write outcome files for Argo; keep_working then exits 0."
    )
    parser.add_argument(
        "--parallel",
        type=_parallel,
        metavar="N",
        help="Connections to copy over, 1 to 32 (default: the spec's merge_settings.parallel).",
    )


def _reset_batch_options(parser: argparse.ArgumentParser) -> None:
    _with_spec(parser)
    parser.add_argument(
        "--dataset", metavar="NAME", help="The dataset whose staging to discard (it must belong to the stream)."
    )
    _merge_url(parser)


def _reconcile_views_options(parser: argparse.ArgumentParser) -> None:
    _with_spec(parser)
    _merge_url(parser)


def _notify_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--batch", default="")
    parser.add_argument("--status", default="Failed")
    parser.add_argument("--failures", default="", help="Argo's {{workflow.failures}} JSON.")
    parser.add_argument("--link", default="", help="Link to the run in the Argo UI.")


class Step(NamedTuple):
    """A step: what it does (its help), its options, and what runs it."""

    help: str
    options: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


STEPS: dict[str, Step] = {
    "snapshot-merge": Step(
        "Ingest the stream's tables from one snapshot and merge them. Prints a final JSON outcome line. "
        "Exit codes: 0 done, 10 keep_working (run again now), 75 transient error (retry later), "
        "1 permanent error, 11 another run of the stream holds the lock.",
        _snapshot_merge_options,
        snapshot_merge,
    ),
    "reset-batch": Step(
        "Reset the stream's uncommitted batch so the next run re-ingests it; refuses a committed batch.",
        _reset_batch_options,
        reset_batch,
    ),
    "reconcile-views": Step(
        "Create or update the consumer views of the stream's datasets; exit 1 when any failed.",
        _reconcile_views_options,
        reconcile_views,
    ),
    "notify": Step(
        "Post a failure message to $DATASURFACE_NOTIFY_URL (Slack-compatible); never fails.",
        _notify_options,
        notify,
    ),
}


def run(argv: Sequence[str]) -> int:
    """Run the step ``argv[0]`` with its options ``argv[1:]``; returns the exit code."""
    name, *options = argv
    step = STEPS[name]
    parser = argparse.ArgumentParser(prog=f"datasurface job {name}", description=step.help)
    step.options(parser)
    try:
        args = parser.parse_args(options)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_PERMANENT
    try:
        return step.run(args)
    except StepError as exc:
        _error(str(exc))
        return exc.code
