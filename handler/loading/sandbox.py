"""Run a model's ``createEcosystem()`` in a sandboxed child process (see docs/sandbox.md).

The parent never imports model code. It copies the model folder to a fresh temporary folder,
starts ``python -I -m handler.loading.child`` there with an empty environment in a new
session, waits at most ``wall_seconds``, kills the whole process group on timeout, and reads
back the model JSON or an error that names the file and line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from handler.loading.limits import SandboxLimits

_STDERR_TAIL = 2000


@dataclass(frozen=True)
class SandboxError:
    """Why a model could not be loaded. ``kind``: syntax, exception, entrypoint, invalid,
    timeout, cpu, memory, crash, output, sandbox, missing."""

    kind: str
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class SandboxRun:
    model_json: bytes | None
    error: SandboxError | None
    stderr: str


def _copy_model(model_dir: Path, dest: Path) -> None:
    # Symlinks are not followed: a link in a PR must not pull in files from outside the repo.
    shutil.copytree(model_dir, dest, symlinks=True, ignore=shutil.ignore_patterns(".git", "__pycache__"))


def run_model(model_dir: Path, limits: SandboxLimits, require_landlock: bool = False) -> SandboxRun:
    """Run ``createEcosystem()`` of ``model_dir/eco.py`` in the sandbox."""
    if not (model_dir / "eco.py").is_file():
        return SandboxRun(None, SandboxError("missing", f"{model_dir} has no eco.py", "eco.py"), "")
    with tempfile.TemporaryDirectory(prefix="datasurface-model-") as tmp:
        copy = Path(tmp) / "model"
        _copy_model(model_dir, copy)
        args = json.dumps({**asdict(limits), "require_landlock": require_landlock})
        proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "handler.loading.child", args],
            cwd=copy,
            env={},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=limits.wall_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, err = proc.communicate()
            timed_out = True
        _kill_group(proc.pid)  # anything the model left running
    stderr = err.decode("utf-8", "replace")[-_STDERR_TAIL:]
    if timed_out:
        return SandboxRun(
            None, SandboxError("timeout", f"createEcosystem() did not finish within {limits.wall_seconds:g} s"), stderr
        )
    return SandboxRun(*_parse_output(out, proc.returncode, limits, stderr), stderr)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _parse_output(
    out: bytes, returncode: int, limits: SandboxLimits, stderr: str
) -> tuple[bytes | None, SandboxError | None]:
    if out.startswith(b"OK\n"):
        if len(out) > limits.output_mb * 1024 * 1024:
            return None, SandboxError("output", f"the model's JSON is larger than {limits.output_mb} MiB")
        return out[3:], None
    if out.startswith(b"ERR\n"):
        try:
            detail = json.loads(out[4:])
            return None, SandboxError(
                str(detail["kind"]), str(detail["message"]), detail.get("file"), detail.get("line")
            )
        except (ValueError, KeyError, TypeError):
            return None, SandboxError("output", "the sandbox returned an unreadable error report")
    if returncode == -signal.SIGXCPU:
        return None, SandboxError("cpu", f"createEcosystem() used more than {limits.cpu_seconds} s of CPU time")
    if returncode == -signal.SIGXFSZ:
        return None, SandboxError("crash", f"the model wrote a file larger than {limits.file_size_mb} MiB")
    if "MemoryError" in stderr or returncode in (-signal.SIGSEGV, -signal.SIGABRT):
        return None, SandboxError(
            "memory",
            f"the model process died ({_describe(returncode)}); it probably exceeded the {limits.memory_mb} MiB memory limit",
        )
    return None, SandboxError("crash", f"the model process ended without a result ({_describe(returncode)})")


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"
