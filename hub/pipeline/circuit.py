"""Circuit breakers per connector instance and direction, kept in the database so every hub
process sees the same state: after `THRESHOLD` consecutive failures the instance is left alone
for a cool-down that doubles with each further failure, so one broken system cannot use up the
workers' time or the retry budget of its queued actions while it is down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from hub import clock
from hub.store.db import write
from hub.store.tables import circuits
from hub.tickets.service import insert_ignore

THRESHOLD = 5
BASE_COOLDOWN = 30.0
MAX_COOLDOWN = 3600.0


@dataclass(frozen=True)
class Circuit:
    instance: str
    direction: str
    failures: int
    opened_until: datetime | None
    last_error: str | None

    def is_open(self, now: datetime) -> bool:
        return self.opened_until is not None and self.opened_until > now

    @property
    def state(self) -> str:
        if self.opened_until is None:
            return "closed"
        return "open" if self.is_open(clock.now()) else "half-open"


def get(conn: Connection, instance: str, direction: str) -> Circuit:
    row = conn.execute(
        select(circuits).where(circuits.c.instance == instance, circuits.c.direction == direction)
    ).first()
    if row is None:
        return Circuit(instance, direction, 0, None, None)
    return Circuit(instance, direction, row.failures, row.opened_until, row.last_error)


def open_instances(conn: Connection, direction: str, now: datetime) -> Any:
    """A subquery of instances whose circuit is open now (to exclude them from claims)."""
    return select(circuits.c.instance).where(circuits.c.direction == direction, circuits.c.opened_until > now)


def record_failure(
    engine: Engine, instance: str, direction: str, error: str, retry_after: float | None = None
) -> Circuit:
    now = clock.now()
    with write(engine) as conn:
        insert_ignore(conn, circuits, {"instance": instance, "direction": direction, "failures": 0, "updated_at": now})
        current = get(conn, instance, direction)
        failures = current.failures + 1
        opened_until = None
        if failures >= THRESHOLD:
            cooldown = min(MAX_COOLDOWN, BASE_COOLDOWN * 2 ** (failures - THRESHOLD))
            opened_until = now + timedelta(seconds=cooldown)
        if retry_after:  # the system told us how long to stay away
            opened_until = max(opened_until or now, now + timedelta(seconds=retry_after))
        conn.execute(
            update(circuits)
            .where(circuits.c.instance == instance, circuits.c.direction == direction)
            .values(failures=failures, opened_until=opened_until, last_error=error[:2000], updated_at=now)
        )
    return Circuit(instance, direction, failures, opened_until, error)


def record_success(conn: Connection, instance: str, direction: str) -> None:
    conn.execute(
        update(circuits)
        .where(circuits.c.instance == instance, circuits.c.direction == direction, circuits.c.failures > 0)
        .values(failures=0, opened_until=None, last_error=None, updated_at=clock.now())
    )
