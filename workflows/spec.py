"""The job-spec contract: everything one ingestion stream's job needs, and nothing else.

The control plane (``handler``) renders one spec per stream into a ConfigMap; data-plane
steps read it and never the Python model. Versioned: a job refuses a spec version it does not
know, so a newer renderer cannot silently drive an older image.

The spec is ``msgspec`` structs, like the model: a workflow step decodes and checks it in one
call, and importing msgspec costs a tenth of pydantic (whose import was a third of a step's
start-up). Decoding is strict: unknown fields, wrong types and values outside the constraints
fail with the JSON path of the field (``read_spec``). Structs built in code are not checked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

SPEC_VERSION = 1


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


#: The PostgreSQL types the renderer produces; a spec's type goes into DDL, so nothing else is accepted.
SQL_TYPE_PATTERN = (
    r"^(SMALLINT|INTEGER|BIGINT|REAL|DOUBLE PRECISION|DATE|TIMESTAMP|BOOLEAN|JSONB|BYTEA|TEXT"
    r"|NUMERIC\([0-9]{1,4},[0-9]{1,4}\)|CHAR\([0-9]{1,9}\)|VARCHAR\([0-9]{1,9}\))$"
)


class ColumnSpec(_Spec, frozen=True):
    name: str
    sql_type: Annotated[
        str, Meta(pattern=SQL_TYPE_PATTERN, description="PostgreSQL type, e.g. VARCHAR(20), NUMERIC(10,2), TIMESTAMP")
    ]
    nullable: bool
    key_position: Annotated[
        int | None, Meta(description="0-based position in the primary key; None for non-key columns")
    ] = None


class DatasetSpec(_Spec, frozen=True):
    name: str
    source_table: Annotated[str, Meta(description="table of the producer database, in its default schema")]
    columns: list[ColumnSpec]

    @property
    def key_columns(self) -> list[ColumnSpec]:
        return sorted((c for c in self.columns if c.key_position is not None), key=lambda c: c.key_position or 0)


class DatabaseSpec(_Spec, frozen=True):
    host: str
    port: int
    database: str
    credential: Annotated[str, Meta(description="name of the Kubernetes secret holding username and password")]


class ViewSpec(_Spec, frozen=True):
    workspace: str
    group: str
    dataset: str
    schema_name: Annotated[
        str, Meta(description="the workspace's schema (in its own database, or in the merge database)")
    ]
    live_view: str
    history_view: Annotated[str | None, Meta(description="forensic groups only: every version with milestones")] = None
    database: Annotated[
        DatabaseSpec | None,
        Meta(
            description="the workspace's own consumer database, which logical replication keeps up to date "
            "(docs/consumer-views.md); None: the views live in the merge database"
        ),
    ] = None


#: A server setting's memory size, as PostgreSQL writes it.
MEMORY_PATTERN = r"^[1-9][0-9]{0,6}(kB|MB|GB)$"


class MergeSettings(_Spec, frozen=True):
    """How the job uses the databases (docs/snapshot-merge.md has what each setting is for and its
    measured effect). The memory settings are set for the job's own merge-database sessions."""

    work_mem: Annotated[
        str,
        Meta(
            pattern=MEMORY_PATTERN,
            description="per sort or hash: the join of staging against current rows fits in memory up to "
            "about a million rows (hash tables may use hash_mem_multiplier times this)",
        ),
    ] = "128MB"
    maintenance_work_mem: Annotated[str, Meta(pattern=MEMORY_PATTERN, description="index builds of new tables")] = (
        "256MB"
    )
    temp_buffers: Annotated[
        str, Meta(pattern=MEMORY_PATTERN, description="the change set (a temporary table) stays in memory up to this")
    ] = "64MB"
    random_page_cost: Annotated[
        float,
        Meta(
            gt=0,
            le=100,
            description="the planner's price of a random page read: at PostgreSQL's default (4, for spinning "
            "disks) it applies a change set by scanning the whole merge table instead of looking its keys up",
        ),
    ] = 1.1
    change_capture: Annotated[
        bool,
        Meta(
            description="read only rows whose transaction ids say they may have changed since the last batch, "
            "where the producer's table allows it (docs/snapshot-merge.md); false: every batch reads every row"
        ),
    ] = True
    parallel: Annotated[
        int,
        Meta(
            ge=1,
            le=32,
            description="connections ingestion copies over (tables and block ranges of large tables at once)",
        ),
    ] = 2


class JobSpec(_Spec, frozen=True, kw_only=True):  # keyword-only: the version comes first in the file
    spec_version: Literal[1] = 1  # SPEC_VERSION
    platform: str
    strategy: Literal["live", "forensic"]
    stream: str
    store: str
    datasets: list[DatasetSpec]
    source: DatabaseSpec
    merge: DatabaseSpec
    namespace: str
    schedule: str
    freshness_seconds: (
        Annotated[
            int,
            Meta(
                gt=0,
                description="how old the stream's last commit may be before it is stale: from the consumers' "
                "latency and the schedule (handler/render/streams.py)",
            ),
        ]
        | None
    ) = None  # None: two schedule intervals and a minute
    views: list[ViewSpec] = []
    merge_settings: MergeSettings = field(default_factory=MergeSettings)

    @classmethod
    def from_json(cls, data: bytes | str) -> JobSpec:
        """Decode and check a spec; raises ``SpecError`` naming the JSON path of what is wrong."""
        try:
            return _decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise SpecError(str(exc)) from None
        except msgspec.DecodeError as exc:
            raise SpecError(f"not JSON: {exc}") from None

    def to_json(self) -> str:
        return spec_json(msgspec.to_builtins(self))

    @property
    def freshness_target(self) -> int:
        return self.freshness_seconds or schedule_freshness(self.schedule)


class SpecError(ValueError):
    """A job spec that is not JSON or does not match the contract."""


_decoder = msgspec.json.Decoder(JobSpec)


def schedule_freshness(schedule: str) -> int:
    """The freshest a schedule can keep a stream: two intervals and a minute, so that one skipped
    or slow run does not make it late."""
    from datetime import UTC, datetime

    from croniter import croniter

    runs = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    first, second = runs.get_next(datetime), runs.get_next(datetime)
    return int(2 * (second - first).total_seconds()) + 60


def spec_json(data: Mapping[str, Any]) -> str:
    """The file format of a job spec: keys in field order, two-space indent, newline at the end.

    Producers that hold the spec as plain data (the renderer, for speed) use this too, so a spec
    reads the same whichever way it was made.
    """
    return msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n"


Role = Literal["source", "merge"]


def credential_env(role: Role) -> tuple[str, str]:
    """The environment variables a job reads a database's credential from, by the database's role:
    ``DATASURFACE_SOURCE_USER`` / ``_PASSWORD`` (the stream's producer) and ``DATASURFACE_MERGE_USER``
    / ``_PASSWORD`` (the platform's merge database).

    Rendered workflows fill them from the secret's ``username`` and ``password`` keys: the merge
    secret is the platform's, the source secret is passed by each stream's CronWorkflow, so a
    run can read only its own stream's producer secret.
    """
    return f"DATASURFACE_{role.upper()}_USER", f"DATASURFACE_{role.upper()}_PASSWORD"


def consumer_credential_env(secret: str) -> tuple[str, str]:
    """The environment variables a job reads a consumer database's credential from:
    ``DATASURFACE_CONSUMER_<SECRET>_<digest>_USER`` / ``_PASSWORD``, one pair per secret (a platform
    may deliver to several consumer databases), unambiguous whatever the secret's name."""
    readable = re.sub(r"[^A-Z0-9]+", "_", secret.upper()).strip("_")[:40]
    stem = f"DATASURFACE_CONSUMER_{readable}_{name_digest('consumer', secret, length=6).upper()}"
    return f"{stem}_USER", f"{stem}_PASSWORD"


#: Keys of a credential's Kubernetes secret (the kubernetes.io/basic-auth convention).
SECRET_USER_KEY, SECRET_PASSWORD_KEY = "username", "password"


# --- names: one shortening scheme for every generated name --------------------------------

#: PostgreSQL's identifier limit (bytes; generated names are ASCII).
SQL_NAME_MAX = 63


def name_digest(*parts: str, length: int = 10) -> str:
    """A short, stable digest of ``parts`` that keeps shortened names unique."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


def shorten(name: str, limit: int = SQL_NAME_MAX, sep: str = "_") -> str:
    """``name`` if it fits in ``limit``; else a readable prefix, ``sep`` and a digest of the whole name."""
    if len(name) <= limit:
        return name
    digest = name_digest(name)
    return name[: limit - len(digest) - len(sep)].rstrip(sep) + sep + digest


def sql_name(*parts: str) -> str:
    """A lower-case SQL identifier: ``sql_name("LiveDSG", "customers")`` -> ``livedsg_customers``.

    The renderer names the consumer schemas and views of a spec with it.
    """
    return shorten(re.sub(r"[^a-z0-9_]+", "_", "_".join(parts).lower()).strip("_"))
