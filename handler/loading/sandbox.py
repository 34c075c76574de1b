"""Run a model's ``createEcosystem()`` in the sandbox (see docs/sandbox.md) and read its result.

The parent never imports model code. It copies the model folder without trusting it
(``model_tree``), starts ``handler.loading.child`` there in a new session with an environment of
one variable, and reads the result and the model's output with caps and a deadline: it never
buffers more than it allows and never waits longer than the wall-clock limit plus a grace
period. At the deadline it asks the child's supervisor to kill everything the model started,
then kills the whole process group, then stops reading whatever still holds the pipes.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from handler.findings import Finding
from handler.loading.limits import SandboxLimits
from handler.loading.model_tree import copy_model_tree

OUTPUT_CAP = 1024 * 1024  # the model's own prints (stdout and stderr together) kept at most
_STDERR_TAIL = 2000  # shown in findings
_GRACE = 2.0  # seconds for the supervisor to kill what the model started
PRETEND_MISSING_ENV = "DATASURFACE_SANDBOX_PRETEND_MISSING"  # tests: report a layer absent (stricter only)


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
    mapping: str | None = None  # the mapping file's text, read in the sandbox
    mapping_error: str | None = None
    layers: dict[str, str] = field(default_factory=dict)  # what the sandbox applied, layer by layer
    missing: list[str] = field(default_factory=list)  # "layer: why" for each layer not applied
    output_discarded: int = 0  # bytes of the model's prints beyond OUTPUT_CAP
    findings: list[Finding] = field(default_factory=list)  # why the folder was refused


class _Envelope(msgspec.Struct):
    status: str
    sandbox: dict[str, str] = {}
    missing: list[str] = []
    model: msgspec.Raw = msgspec.Raw()  # the model's JSON, left undecoded here
    mapping: str | None = None
    mapping_error: str | None = None
    error: dict[str, str | int | None] | None = None


_envelope = msgspec.json.Decoder(_Envelope)


def run_model(model_dir: Path, limits: SandboxLimits, allow_unsandboxed: bool = False, variant: int = 0) -> SandboxRun:
    """Run ``createEcosystem()`` of ``model_dir/eco.py`` in the sandbox.

    ``variant`` 1 runs it under other conditions (clock, process id, seeds, listing order) than
    variant 0, to tell a deterministic model from one that is not.
    """
    if not (model_dir / "eco.py").is_file() or (model_dir / "eco.py").is_symlink():
        return SandboxRun(None, SandboxError("missing", f"{model_dir} has no eco.py", "eco.py"), "")
    with tempfile.TemporaryDirectory(prefix=f"datasurface-model-{variant}-") as tmp:
        copy = Path(tmp) / "model"
        refused = copy_model_tree(model_dir, copy)
        if refused:
            return SandboxRun(None, None, "", findings=refused)
        args = msgspec.json.encode(
            {
                **limits.__dict__,
                "allow_unsandboxed": allow_unsandboxed,
                "variant": variant,
                "pretend_missing": [p for p in os.environ.get(PRETEND_MISSING_ENV, "").split(",") if p],
            }
        ).decode()
        proc = subprocess.Popen(
            [sys.executable, "-s", "-P", "-B", "-m", "handler.loading.child", args],
            cwd=copy,
            env={"PYTHONHASHSEED": str(1 + variant * 7919)},  # -I would ignore it; -s -P keep the rest of isolation
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        result, output, discarded, timed_out = _collect(proc, limits)
    stderr = output.decode("utf-8", "replace")[-_STDERR_TAIL:]
    if timed_out:
        error = SandboxError("timeout", f"createEcosystem() did not finish within {limits.wall_seconds:g} s")
        return SandboxRun(None, error, stderr, output_discarded=discarded)
    return _parse(result, proc.returncode, limits, stderr, discarded)


def _collect(proc: subprocess.Popen[bytes], limits: SandboxLimits) -> tuple[bytes, bytes, int, bool]:
    """Read the result (up to the output limit) and the model's prints (up to OUTPUT_CAP, the rest
    counted and dropped) until both end or the deadline passes. Returns (result, prints,
    dropped bytes, timed out)."""
    if proc.stdout is None or proc.stderr is None:
        raise RuntimeError("the sandbox child was started without pipes")
    result_cap = limits.output_mb * 1024 * 1024 + 64 * 1024
    result, output = bytearray(), bytearray()
    discarded = 0
    deadline = time.monotonic() + limits.wall_seconds
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for stream in (proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                chunk = _read(key.fileobj.fileno())  # type: ignore[union-attr]
                if chunk is None:
                    continue
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    result += chunk[: max(0, result_cap - len(result))]
                    if len(result) >= result_cap:  # too large: stop it now, _parse says why
                        _stop(proc)
                        selector.unregister(key.fileobj)
                else:
                    kept = chunk[: max(0, OUTPUT_CAP - len(output))]
                    output += kept
                    discarded += len(chunk) - len(kept)
    if timed_out:
        _stop(proc)
    _kill_group(proc.pid)
    for stream in (proc.stdout, proc.stderr):
        stream.close()  # whatever still holds the other ends, this process stops listening
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_GRACE)
    return bytes(result), bytes(output), discarded, timed_out


def _read(fd: int) -> bytes | None:
    try:
        return os.read(fd, 256 * 1024)
    except BlockingIOError:
        return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the supervisor to kill what the model started (SIGTERM), then kill the whole group."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_GRACE)
    _kill_group(proc.pid)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _parse(result: bytes, returncode: int | None, limits: SandboxLimits, stderr: str, discarded: int) -> SandboxRun:
    if len(result) > limits.output_mb * 1024 * 1024:
        return SandboxRun(
            None, SandboxError("output", f"the model's JSON is larger than {limits.output_mb} MiB"), stderr
        )
    if result:
        try:
            envelope = _envelope.decode(result)
        except msgspec.DecodeError:
            return SandboxRun(None, SandboxError("output", "the sandbox returned an unreadable result"), stderr)
        if envelope.status == "ok" and len(envelope.model) > 0:
            return SandboxRun(
                bytes(envelope.model),
                None,
                stderr,
                envelope.mapping,
                envelope.mapping_error,
                envelope.sandbox,
                envelope.missing,
                discarded,
            )
        detail = envelope.error or {}
        line = detail.get("line")
        error = SandboxError(
            str(detail.get("kind", "crash")),
            str(detail.get("message", "no message")),
            str(detail["file"]) if detail.get("file") else None,
            line if isinstance(line, int) else None,
        )
        return SandboxRun(
            None, error, stderr, layers=envelope.sandbox, missing=envelope.missing, output_discarded=discarded
        )
    return SandboxRun(None, _died(returncode, limits, stderr), stderr, output_discarded=discarded)


def _died(returncode: int | None, limits: SandboxLimits, stderr: str) -> SandboxError:
    """Why the model process ended without a result. The supervisor exits with 128+N for signal N."""
    signum = returncode - 128 if returncode is not None and returncode > 128 else None
    if signum == signal.SIGXCPU:
        return SandboxError("cpu", f"createEcosystem() used more than {limits.cpu_seconds} s of CPU time")
    if signum == signal.SIGXFSZ:
        return SandboxError("crash", f"the model wrote a file larger than {limits.file_size_mb} MiB")
    if "MemoryError" in stderr or signum in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        return SandboxError(
            "memory",
            f"the model process died ({_describe(signum, returncode)}); it probably exceeded the "
            f"{limits.memory_mb} MiB memory limit",
        )
    return SandboxError("crash", f"the model process ended without a result ({_describe(signum, returncode)})")


def _describe(signum: int | None, returncode: int | None) -> str:
    if signum is not None:
        try:
            return f"signal {signal.Signals(signum).name}"
        except ValueError:
            return f"signal {signum}"
    return f"exit code {returncode}"
