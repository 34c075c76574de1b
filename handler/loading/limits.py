"""Settings of a sandboxed model run: resource limits, with their documented defaults, and
whether a model may run when the sandbox cannot be fully applied (never, by default)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ENV_PREFIX = "DATASURFACE_SANDBOX_"


@dataclass(frozen=True)
class SandboxLimits:
    """Limits applied to the child process that runs ``createEcosystem()``.

    Each can be set by an environment variable ``DATASURFACE_SANDBOX_<FIELD>`` (upper case),
    e.g. ``DATASURFACE_SANDBOX_WALL_SECONDS=120``.
    """

    wall_seconds: float = 60.0  # wall-clock timeout; the whole process group is killed
    cpu_seconds: int = 30  # RLIMIT_CPU
    memory_mb: int = 2048  # RLIMIT_AS (address space)
    file_size_mb: int = 16  # RLIMIT_FSIZE: largest file the model may write in its copy
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 0  # RLIMIT_NPROC: new processes (not enforced for root; Landlock denies exec)
    output_mb: int = 512  # largest model JSON the parent accepts
    # Run model code even when Landlock or seccomp cannot be applied (every report then says so).
    # Off: such a machine refuses to run models (--allow-unsandboxed, or this variable, to override).
    allow_unsandboxed: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxLimits:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is None:
                continue
            if field.type in ("bool", bool):
                if raw.lower() not in ("0", "1", "true", "false", "yes", "no"):
                    raise ValueError(f"{ENV_PREFIX}{field.name.upper()}={raw!r} is not true or false")
                values[field.name] = raw.lower() in ("1", "true", "yes")
                continue
            try:
                values[field.name] = float(raw) if field.type in ("float", float) else int(raw)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{field.name.upper()}={raw!r} is not a number") from exc
        return cls(**values)
