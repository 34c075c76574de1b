"""The change simulator: a producer database that changes like a business does.

Weighted business operations, each one transaction (a snapshot never sees half of one, and
the deferred foreign keys hold at every commit). ``seed`` makes a run reproducible: the same
operations with the same values from the same starting state; ids come from database
sequences, so they never collide, even between simulators. A database restart is ridden out
with reconnects and backoff; too many failures in a row end the run with an error.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from faker import Faker
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from simulator.producer import producer_engine

OPERATIONS: list[tuple[str, int]] = [
    ("new_customer", 15),
    ("update_customer", 25),
    ("add_address", 20),
    ("update_address", 30),
    ("delete_address", 10),
]


@dataclass(frozen=True)
class SimulatorConfig:
    url: str
    seed: int | None = None
    max_changes: int | None = None
    min_interval: float = 1.0
    max_interval: float = 5.0
    rate: float | None = None  # changes per second; overrides the intervals
    json_lines: bool = False
    verbose: bool = False
    max_failures: int = 10  # consecutive failed attempts before giving up


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    gave_up: str | None = None

    @property
    def changes(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Change:
    operation: str
    target: str
    values: dict[str, Any]

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.operation:<16} {self.target:<6} {shown}"


class ChangeSimulator:
    def __init__(
        self, config: SimulatorConfig, out: TextIO = sys.stdout, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.config = config
        self.out = out
        self.sleep = sleep
        self.rng = random.Random(config.seed)  # noqa: S311 - reproducible test data, not secrets
        # A second generator for pauses, so timing never shifts the values.
        self.pacing = random.Random(None if config.seed is None else config.seed + 1)  # noqa: S311
        self.fake = Faker("en_US")
        self.fake.seed_instance(config.seed)
        self.engine = producer_engine(config.url, pool_pre_ping=True)
        self.stopping = False

    def stop(self, *_args: object) -> None:
        self.stopping = True

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> Summary:
        summary = Summary()
        in_main = threading.current_thread() is threading.main_thread()  # signals can only be caught there
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
        try:
            while not self.stopping and (self.config.max_changes is None or summary.changes < self.config.max_changes):
                operation = self.rng.choices([n for n, _ in OPERATIONS], weights=[w for _, w in OPERATIONS])[0]
                plan = self._plan(operation)
                change = self._apply_with_retries(plan, summary)
                if change is None:
                    break
                summary.counts[change.operation] += 1
                self._log(summary.changes, change)
                if not self.stopping and (self.config.max_changes is None or summary.changes < self.config.max_changes):
                    self._pause()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.engine.dispose()
        self._summary(summary)
        return summary

    def _pause(self) -> None:
        if self.config.rate:
            delay = 1.0 / self.config.rate
        else:
            delay = self.pacing.uniform(self.config.min_interval, self.config.max_interval)
        deadline = time.monotonic() + delay
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            self.sleep(min(left, 0.2))

    def _apply_with_retries(self, plan: dict[str, Any], summary: Summary) -> Change | None:
        failures = 0
        while not self.stopping:
            try:
                with self.engine.begin() as conn:
                    return self._apply(conn, plan)
            except DBAPIError as exc:
                if not (isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated):
                    raise  # not an outage: a bug or a schema problem, never retried
                failures += 1
                summary.failures += 1
                if failures >= self.config.max_failures:
                    summary.gave_up = (
                        f"the producer database failed {failures} times in a row: {str(exc.orig).strip() or exc}"
                    )
                    return None
                backoff = min(10.0, 0.25 * 2 ** (failures - 1))
                self._note(
                    f"database unavailable ({str(exc.orig).strip().splitlines()[0] if exc.orig else exc}); retry {failures} in {backoff:.2f} s"
                )
                deadline = time.monotonic() + backoff
                while not self.stopping and time.monotonic() < deadline:
                    self.sleep(0.05)
        return None

    # --- operations: the random choices are made first (plan), then applied in one transaction -----

    def _plan(self, operation: str) -> dict[str, Any]:
        f, r = self.fake, self.rng
        plan: dict[str, Any] = {"operation": operation, "pick": r.random()}
        if operation == "new_customer":
            plan.update(
                firstName=f.first_name(),
                lastName=f.last_name(),
                dob=f.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
                email=f.email(),
                phone=f.phone_number()[:30],
                address=self._address(),
            )
        elif operation == "update_customer":
            which = r.choice(["email", "phone", "both"])
            if which in ("email", "both"):
                plan["email"] = f.email()
            if which in ("phone", "both"):
                plan["phone"] = f.phone_number()[:30]
        elif operation == "add_address":
            plan.update(address=self._address(), billing=r.random() < 0.3)
        elif operation == "update_address":
            moved = r.random() < 0.3
            plan["address"] = self._address() if moved else {"streetName": f.street_address()}
        elif operation == "delete_address":
            plan["fallback"] = self._address()
        return plan

    def _address(self) -> dict[str, str]:
        f = self.fake
        return {"streetName": f.street_address(), "city": f.city(), "state": f.state_abbr(), "zipCode": f.zipcode()}

    @staticmethod
    def _pick(conn: Connection, query: str, fraction: float) -> str | None:
        """A row chosen by ``fraction`` among the query's rows in id order: deterministic for a state."""
        count = conn.execute(text(f"SELECT count(*) FROM ({query}) q")).scalar_one()
        if count == 0:
            return None
        picked = conn.execute(text(f"{query} ORDER BY id OFFSET :n LIMIT 1"), {"n": int(fraction * count)}).scalar_one()
        return str(picked)

    def _apply(self, conn: Connection, plan: dict[str, Any]) -> Change:
        operation = plan["operation"]
        if operation == "new_customer":
            new_customer = "C" + str(conn.execute(text("SELECT nextval('customer_id_seq')")).scalar_one())
            new_address = "A" + str(conn.execute(text("SELECT nextval('address_id_seq')")).scalar_one())
            conn.execute(
                text("INSERT INTO customers VALUES (:id, :f, :l, :dob, :e, :p, :a, :a)"),
                {
                    "id": new_customer,
                    "f": plan["firstName"],
                    "l": plan["lastName"],
                    "dob": plan["dob"],
                    "e": plan["email"],
                    "p": plan["phone"],
                    "a": new_address,
                },
            )
            conn.execute(
                text("INSERT INTO addresses VALUES (:id, :c, :s, :city, :st, :z)"),
                {"id": new_address, "c": new_customer, **_address_params(plan["address"])},
            )
            name = f"{plan['firstName']} {plan['lastName']}"
            return Change(operation, new_customer, {"name": name, "address": new_address})
        if operation == "update_customer":
            customer = self._pick(conn, "SELECT id FROM customers", plan["pick"])
            values: dict[str, Any] = {k: plan[k] for k in ("email", "phone") if k in plan}
            assignments = ", ".join(f"{k} = :{k}" for k in values)
            conn.execute(text(f"UPDATE customers SET {assignments} WHERE id = :id"), {**values, "id": customer})
            return Change(operation, str(customer), values)
        if operation == "add_address":
            customer = self._pick(conn, "SELECT id FROM customers", plan["pick"])
            added = "A" + str(conn.execute(text("SELECT nextval('address_id_seq')")).scalar_one())
            conn.execute(
                text("INSERT INTO addresses VALUES (:id, :c, :s, :city, :st, :z)"),
                {"id": added, "c": customer, **_address_params(plan["address"])},
            )
            if plan["billing"]:
                conn.execute(
                    text("UPDATE customers SET billingAddressId = :a WHERE id = :c"), {"a": added, "c": customer}
                )
            return Change(operation, added, {"customer": customer, "billing": plan["billing"], **plan["address"]})
        if operation == "update_address":
            address = self._pick(conn, "SELECT id FROM addresses", plan["pick"])
            values = plan["address"]
            assignments = ", ".join(f"{k} = :{k}" for k in values)
            conn.execute(text(f"UPDATE addresses SET {assignments} WHERE id = :id"), {**values, "id": address})
            return Change(operation, str(address), dict(values))
        # delete_address: only an address that is neither a primary nor a billing address
        address = self._pick(
            conn,
            "SELECT id FROM addresses a WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.primaryAddressId = a.id OR c.billingAddressId = a.id)",
            plan["pick"],
        )
        if address is None:  # nothing deletable: add an address instead, so every step is one change
            return self._apply(
                conn, {"operation": "add_address", "pick": plan["pick"], "address": plan["fallback"], "billing": False}
            )
        conn.execute(text("DELETE FROM addresses WHERE id = :id"), {"id": address})
        return Change(operation, str(address), {})

    # --- output -------------------------------------------------------------------------------

    def _log(self, number: int, change: Change) -> None:
        if self.config.json_lines:
            line = json.dumps(
                {"n": number, "operation": change.operation, "id": change.target, "values": change.values},
                sort_keys=True,
                default=str,
            )
        elif self.config.verbose:
            line = f"[{number:>5}] {change.describe()}"
        else:
            line = f"[{number:>5}] {change.operation:<16} {change.target}"
        print(line, file=self.out, flush=True)

    def _note(self, message: str) -> None:
        if self.config.json_lines:
            print(json.dumps({"note": message}), file=self.out, flush=True)
        else:
            print(f"        {message}", file=self.out, flush=True)

    def _summary(self, summary: Summary) -> None:
        counts = {name: summary.counts.get(name, 0) for name, _ in OPERATIONS}
        if self.config.json_lines:
            body: dict[str, Any] = {"summary": counts, "changes": summary.changes, "failures": summary.failures}
            if summary.gave_up:
                body["error"] = summary.gave_up
            print(json.dumps(body, sort_keys=True), file=self.out, flush=True)
            return
        print(
            f"{summary.changes} changes: " + ", ".join(f"{name} {n}" for name, n in counts.items()),
            file=self.out,
            flush=True,
        )
        if summary.gave_up:
            print(f"error: {summary.gave_up}", file=self.out, flush=True)


def _address_params(address: dict[str, str]) -> dict[str, str]:
    return {"s": address["streetName"], "city": address["city"], "st": address["state"], "z": address["zipCode"]}
