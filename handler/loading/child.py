"""The sandbox child: runs ``createEcosystem()`` of an untrusted model and prints its JSON.

Started by ``handler.loading.sandbox`` as ``python -I -m handler.loading.child`` with an empty
environment, the model's temporary copy as working directory. Everything before
``_run_model`` is trusted code that sets limits; the model code runs after. The result goes
to the file descriptor the parent reads (the original stdout): ``OK\\n`` + model JSON, or
``ERR\\n`` + a JSON error. Whatever the model prints goes to stderr.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import sysconfig
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

import handler.lint
import handler.model  # noqa: F401
from handler.loading import landlock
from handler.model.ecosystem import Ecosystem

ENTRYPOINT = "createEcosystem"
MODEL_FILE = "eco.py"


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


def main() -> None:
    args = json.loads(sys.argv[1])
    model_dir = str(Path.cwd().resolve())
    # The parent reads the result from our stdout; model code gets stderr for its prints.
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _set_rlimits(args)
    os.environ.clear()  # started with an empty environment; also drop what Python itself set (locale)
    sandbox = landlock.restrict(read_only=_readable_paths(), read_write=[model_dir])
    if args.get("require_landlock") and not sandbox.applied:
        result.write(b"ERR\n" + json.dumps(_error("sandbox", f"cannot isolate the model: {sandbox.detail}")).encode())
        result.close()
        return
    model_json, error = _run_model(model_dir)
    if error is not None or model_json is None:
        result.write(b"ERR\n" + json.dumps(error).encode())
    else:
        result.write(b"OK\n" + model_json)
    result.close()


if __name__ == "__main__":
    main()
    # Do not wait for threads the model may have left behind.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
