"""The sandbox child: runs ``createEcosystem()`` of an untrusted model and returns its JSON.

Started by ``handler.loading.sandbox`` as ``python -s -P -B -m handler.loading.child ARGS`` with
an environment of only ``PYTHONHASHSEED``, in a new session, in the model's temporary copy.

Two processes. This one, the supervisor, becomes a *child subreaper*: whatever the model starts
and however it detaches (double fork, ``setsid``), it stays a descendant of the supervisor,
which kills every descendant when the model process ends or when the parent asks it to stop
(SIGTERM). The model process then sets resource limits, applies Landlock (files) and seccomp
(system calls), reads the mapping file, and only then imports model code. Its result goes to
the file descriptor the parent reads (the original stdout) as one JSON envelope; whatever the
model prints goes to stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import importlib.util
import json
import os
import random
import resource
import signal
import sys
import sysconfig
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

from handler.lint import lint_ecosystem
from handler.loading import landlock, seccomp
from handler.loading.model_tree import read_regular_file
from handler.model.ecosystem import Ecosystem
from handler.model.mapping import MAPPING_FILE

ENTRYPOINT = "createEcosystem"
MODEL_FILE = "eco.py"
MAX_MAPPING_BYTES = 16 * 1024 * 1024
_PR_SET_CHILD_SUBREAPER = 36


# --- the supervisor ---------------------------------------------------------------------------


def main() -> None:
    Ecosystem.linter = lint_ecosystem  # what a model's lintAndHydrateCaches() runs
    args = json.loads(sys.argv[1])
    result = os.dup(1)  # the parent reads the result here; model code gets stderr for its prints
    os.dup2(2, 1)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        _write(result, _error_envelope("sandbox", "cannot become a child subreaper", {}))
        return
    pid = os.fork()
    if pid == 0:
        try:
            _model_process(args, result)
        except BaseException:  # noqa: BLE001 - a bug of this module: the parent reports a crash
            traceback.print_exc()
            os._exit(70)
        finally:
            for stream in (sys.stdout, sys.stderr):  # what the model printed, before os._exit skips it
                with contextlib.suppress(Exception):
                    stream.flush()
        os._exit(0)
    os.close(result)  # the parent sees the end of the result when the model process is gone
    signal.signal(signal.SIGTERM, lambda *_: _stop())
    _, status = os.waitpid(pid, 0)
    _kill_descendants()
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def _stop() -> None:
    _kill_descendants()
    os._exit(128 + signal.SIGTERM)


def _kill_descendants() -> None:
    """Kill every process below this one: orphans are re-parented here, so repeat until none is left."""
    me = os.getpid()
    for _ in range(1000):
        children = _children(me)
        if not children:
            return
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        while True:
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if reaped == 0:
                time.sleep(0.005)
                if not _children(me):
                    break


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc/PID/task/*/children, else a scan of /proc)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        found = [p for p in _all_pids() if _parent_of(p) == pid]
    return found


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces


# --- the model process ------------------------------------------------------------------------


def _model_process(args: dict[str, Any], result: int) -> None:
    model_dir = str(Path.cwd().resolve())
    _set_rlimits(args)
    os.environ.clear()  # started with an environment of one variable; drop what Python itself set
    layers = _apply_sandbox(model_dir, set(args.get("pretend_missing", [])))
    report = {name: layer.detail for name, layer in layers.items()}
    missing = [f"{name}: {layer.detail}" for name, layer in layers.items() if not layer.applied]
    if missing and not args.get("allow_unsandboxed"):
        message = "the model was not run: the sandbox cannot be fully applied (" + "; ".join(missing) + ")"
        _write(result, _error_envelope("sandbox", message, report))
        return
    mapping, mapping_error = _read_mapping(model_dir)
    _perturb(int(args.get("variant", 0)))
    model_json, error = _run_model(model_dir)
    if error is not None or model_json is None:
        _write(result, _error_envelope(error["kind"], error["message"], report, error) if error else b"")
        return
    envelope = {
        "status": "ok",
        "model": msgspec.Raw(model_json),
        "mapping": mapping,
        "mapping_error": mapping_error,
        "sandbox": report,
        "missing": missing,
    }
    _write(result, msgspec.json.encode(envelope))


def _apply_sandbox(model_dir: str, pretend_missing: set[str]) -> dict[str, seccomp.LayerResult]:
    """Landlock, then seccomp (a layer listed in ``pretend_missing`` is reported absent: for tests)."""
    layers: dict[str, seccomp.LayerResult] = {}
    syscall_filter = seccomp.Filter()  # built while programs may still run: libseccomp is located then
    if "landlock" in pretend_missing:
        layers["landlock"] = seccomp.LayerResult(False, "Landlock is not available (pretended for a test)")
    else:
        applied = landlock.restrict(read_only=_readable_paths(), read_write=[model_dir])
        layers["landlock"] = seccomp.LayerResult(applied.applied, applied.detail)
    if "seccomp" in pretend_missing:
        layers["seccomp"] = seccomp.LayerResult(False, "seccomp is not available (pretended for a test)")
    else:
        layers["seccomp"] = syscall_filter.load()
    return layers


def _set_rlimits(args: dict[str, int]) -> None:
    mb = 1024 * 1024
    limits = [
        (resource.RLIMIT_CPU, args["cpu_seconds"]),
        (resource.RLIMIT_AS, args["memory_mb"] * mb),
        (resource.RLIMIT_FSIZE, args["file_size_mb"] * mb),
        (resource.RLIMIT_NOFILE, args["open_files"]),
        (resource.RLIMIT_NPROC, args["processes"]),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, wanted in limits:
        _soft, hard = resource.getrlimit(which)
        value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(which, (value, value if which != resource.RLIMIT_CPU else value + 1))


def _readable_paths() -> list[str]:
    """What the interpreter may still read: its own installation and the libraries it loads."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sys.path if p and Path(p).is_absolute())
    paths.update(v for k, v in sysconfig.get_paths().items() if v)
    paths.update(("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo", "/dev/urandom", "/dev/null"))
    return sorted(p for p in paths if Path(p).exists())


def _read_mapping(model_dir: str) -> tuple[str | None, str | None]:
    """The mapping file's text, read in the sandbox: a regular file, no link followed, size-capped."""
    try:
        data = read_regular_file(Path(model_dir), MAPPING_FILE, MAX_MAPPING_BYTES)
    except ValueError as exc:
        return None, str(exc)
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, f"{MAPPING_FILE} is not UTF-8 text"


def _perturb(variant: int) -> None:
    """Run variant 1 under other conditions than variant 0, so that a model whose result depends on
    them gives two different results. Each condition is made to differ for certain, not by chance:
    process ids are consecutive numbers, the clock is a year, a day, an hour and 3.5 s apart,
    random seeds differ, and directory listings come in opposite orders. (The hash seed and the
    folder differ too: the parent gives each run its own.)"""
    random.seed(variant)
    real_pid = os.getpid() // 2 * 2
    os.getpid = lambda: real_pid + variant
    real_listdir, real_scandir = os.listdir, os.scandir
    os.listdir = lambda path=".": sorted(real_listdir(path), reverse=bool(variant))  # type: ignore[assignment]

    def scandir(path: Any = ".") -> Any:
        with real_scandir(path) as entries:
            return iter(sorted(entries, key=lambda e: e.name, reverse=bool(variant)))

    os.scandir = scandir
    if variant == 0:
        return
    offset = 86_400.0 * 367 + 3_723.5  # a year and a day, an hour, a minute, and 3.5 seconds later
    real_time, real_time_ns = time.time, time.time_ns
    time.time = lambda: real_time() + offset
    time.time_ns = lambda: real_time_ns() + int(offset * 1e9)

    class _Later(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return super().now(tz) + dt.timedelta(seconds=offset)

        @classmethod
        def utcnow(cls) -> Any:
            return super().utcnow() + dt.timedelta(seconds=offset)

        @classmethod
        def today(cls) -> Any:
            return cls.now()

    class _LaterDate(dt.date):
        @classmethod
        def today(cls) -> Any:
            return _Later.now().date()

    dt.datetime = _Later  # type: ignore[misc]
    dt.date = _LaterDate  # type: ignore[misc]


def _model_location(model_dir: str, tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost traceback frame inside the model folder, as (relative file, line)."""
    found: tuple[str | None, int | None] = (None, None)
    for frame, line in traceback.walk_tb(tb):
        filename = str(Path(frame.f_code.co_filename).absolute())
        if filename.startswith(model_dir + os.sep):
            found = (os.path.relpath(filename, model_dir), line)
    return found


def _error(kind: str, message: str, file: str | None = None, line: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "message": message, "file": file, "line": line}


def _error_envelope(kind: str, message: str, sandbox: dict[str, str], error: dict[str, Any] | None = None) -> bytes:
    return msgspec.json.encode({"status": "error", "error": error or _error(kind, message), "sandbox": sandbox})


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)


def _run_model(model_dir: str) -> tuple[bytes | None, dict[str, Any] | None]:
    path = Path(model_dir) / MODEL_FILE
    sys.path.insert(0, model_dir)
    try:
        spec = importlib.util.spec_from_file_location("eco", path)
        if spec is None or spec.loader is None:
            return None, _error("entrypoint", f"{MODEL_FILE} cannot be loaded as a module", MODEL_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules["eco"] = module
        spec.loader.exec_module(module)
        entry = getattr(module, ENTRYPOINT, None)
        if entry is None:
            return None, _error("entrypoint", f"{MODEL_FILE} defines no {ENTRYPOINT}() function", MODEL_FILE)
        if not callable(entry):
            return None, _error("entrypoint", f"{ENTRYPOINT} in {MODEL_FILE} is not a function", MODEL_FILE)
        eco = entry()
        if not isinstance(eco, Ecosystem):
            return None, _error(
                "entrypoint", f"{ENTRYPOINT}() returned {type(eco).__name__}, expected an Ecosystem", MODEL_FILE
            )
        return msgspec.json.encode(eco), None
    except SyntaxError as exc:
        where = os.path.relpath(Path(exc.filename).absolute(), model_dir) if exc.filename else MODEL_FILE
        return None, _error("syntax", f"{type(exc).__name__}: {exc.msg}", where, exc.lineno)
    except MemoryError:
        return None, _error(
            "memory",
            "the model ran out of memory (address-space limit)",
            *_model_location(model_dir, sys.exc_info()[2]),
        )
    except RecursionError as exc:
        return None, _error("exception", f"RecursionError: {exc}", *_model_location(model_dir, exc.__traceback__))
    except msgspec.EncodeError as exc:
        return None, _error("invalid", f"the ecosystem holds a value that is not model data: {exc}")
    except BaseException as exc:  # noqa: BLE001 - model code may raise anything, SystemExit included
        file, line = _model_location(model_dir, exc.__traceback__)
        return None, _error("exception", f"{type(exc).__name__}: {exc}", file, line)


if __name__ == "__main__":
    main()
