"""The ``datasurface`` executable: a data-plane step starts without the control plane and ends
without tearing the interpreter down, with its exit status and output intact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import atexit
import sys
from handler.cli import main
sys.argv = ["datasurface", *sys.argv[1:]]
# a step ends with os._exit after the exit handlers: this one reports what the run imported
atexit.register(lambda: print("control plane imported:", sorted(m for m in ("handler.loading", "handler.render", "handler.cli.deploy_commands", "typer", "pydantic") if m in sys.modules)))
main()
"""


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60)


def test_a_data_plane_step_does_not_import_the_control_plane() -> None:
    result = probe("job", "snapshot-merge", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: datasurface job snapshot-merge" in result.stdout and "--parallel" in result.stdout
    assert "control plane imported: []" in result.stdout


def test_a_step_keeps_its_exit_status_and_output(tmp_path: Path) -> None:
    missing = probe("job", "snapshot-merge", "--spec", str(tmp_path / "missing.json"))
    assert missing.returncode == 1  # a permanent error, as Argo's retry policy reads it
    assert "error: cannot use job spec" in missing.stderr
    assert "control plane imported: []" in missing.stdout  # exit handlers ran, output flushed
    usage = probe("job", "snapshot-merge", "--spec", "spec.json", "--no-such-option")
    assert usage.returncode == 2 and "unrecognized arguments: --no-such-option" in usage.stderr


def test_the_job_group_still_lists_every_step_and_the_spec_command() -> None:
    result = probe("job", "--help")
    assert result.returncode == 0, result.stderr
    assert "snapshot-merge" in result.stdout and "spec" in result.stdout and "reset-batch" in result.stdout
    assert "control plane imported: []" not in result.stdout  # the whole command line was mounted
