"""How a step ends: the outcome line on stdout, the outcome files Argo reads, the exit code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_DONE = 0
EXIT_PERMANENT = 1  # fix the data or the model; retrying will not help
EXIT_KEEP_WORKING = 10  # more to do: run again now
EXIT_LOCKED = 11  # another run of the same stream holds the lock
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: retry later (connection refused, serialization failure, ...)


@dataclass
class Outcome:
    outcome: str  # done | keep_working | error
    stream: str
    batch: int | None = None
    datasets: dict[str, dict[str, int]] = field(default_factory=dict)
    schema_changed: bool = False
    error: str | None = None
    transient: bool = False
    locked: bool = False

    @property
    def exit_code(self) -> int:
        if self.outcome == "done":
            return EXIT_DONE
        if self.outcome == "keep_working":
            return EXIT_KEEP_WORKING
        if self.locked:
            return EXIT_LOCKED
        return EXIT_TRANSIENT if self.transient else EXIT_PERMANENT

    def line(self) -> str:
        body: dict[str, Any] = {
            "outcome": self.outcome,
            "stream": self.stream,
            "batch": self.batch,
            "datasets": self.datasets,
        }
        if self.schema_changed:
            body["schema_changed"] = True
        if self.error:
            body["error"] = self.error
            body["transient"] = self.transient
        return json.dumps(body, sort_keys=True)

    def write_files(self, folder: Path) -> None:
        """The files the rendered WorkflowTemplate reads as output parameters."""
        folder.mkdir(parents=True, exist_ok=True)
        totals = {key: sum(d.get(key, 0) for d in self.datasets.values()) for key in ("inserted", "updated", "deleted")}
        for name, value in (
            ("outcome", self.outcome),
            ("schema_changed", "true" if self.schema_changed else "false"),
            ("batch", "" if self.batch is None else str(self.batch)),
            *((key, str(count)) for key, count in totals.items()),
        ):
            tmp = folder / f".{name}.tmp"
            tmp.write_text(value)
            tmp.replace(folder / name)
