"""The ``datasurface`` executable: a data-plane step starts without the control plane."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from handler.cli import main
sys.argv = ["datasurface", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    print("exit", exit.code)
print("control plane imported:", sorted(m for m in ("handler.loading", "handler.render", "handler.cli.deploy_commands") if m in sys.modules))
"""


def probe(*args: str) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_data_plane_step_does_not_import_the_control_plane() -> None:
    out = probe("job", "snapshot-merge", "--help")
    assert "Usage: datasurface job snapshot-merge" in out
    assert "exit 0" in out
    assert "control plane imported: []" in out


def test_the_job_group_still_lists_every_step_and_the_spec_command() -> None:
    out = probe("job", "--help")
    assert "snapshot-merge" in out and "spec" in out and "reset-batch" in out
    assert "control plane imported: []" not in out  # the whole command line was mounted
