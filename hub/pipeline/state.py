"""Per-instance state kept by the core: cursor, last success, error streak, credential expiries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from hub import clock
from hub.pipeline import circuit
from hub.store.db import write
from hub.store.tables import instance_state
from hub.tickets.service import insert_ignore


def _ensure(conn: Connection, instance: str) -> None:
    insert_ignore(conn, instance_state, {"instance": instance, "expiries": {}})


def load_cursor(conn: Connection, instance: str) -> Any:
    return conn.execute(select(instance_state.c.cursor).where(instance_state.c.instance == instance)).scalar()


def save_success(
    conn: Connection, instance: str, now: datetime, cursor: Any = None, *, with_cursor: bool = False
) -> None:
    """Record a successful poll or push; the cursor is written in the caller's transaction, i.e.
    together with the events it covers."""
    _ensure(conn, instance)
    values: dict[str, Any] = {"last_poll_at": now, "last_success_at": now, "last_error": None}
    if with_cursor:
        values["cursor"] = cursor
    conn.execute(update(instance_state).where(instance_state.c.instance == instance).values(**values))
    circuit.record_success(conn, instance, "in")


def record_error(
    engine: Engine, instance: str, message: str, *, retry_after: float | None = None, from_poll: bool = True
) -> None:
    """A failure, remembered for the admin. A failed poll also counts against the instance's
    inbound circuit; `from_poll=False` (maintenance, upkeep) leaves the poll's state alone."""
    now = clock.now()
    values: dict[str, Any] = {"last_error": message[:2000], "last_error_at": now}
    if from_poll:
        values["last_poll_at"] = now
    with write(engine) as conn:
        _ensure(conn, instance)
        conn.execute(update(instance_state).where(instance_state.c.instance == instance).values(**values))
    if from_poll:
        circuit.record_failure(engine, instance, "in", message, retry_after)


REQUEST_COLUMNS = {"poll": instance_state.c.poll_requested_at, "maintenance": instance_state.c.maintenance_requested_at}


def request(engine: Engine, instance: str, what: str) -> None:
    """Ask the scheduler to poll (`poll`) or run the connector's upkeep (`maintenance`) soon.
    Called through ConnectorContext, e.g. when a change notification says there is new data."""
    column = REQUEST_COLUMNS[what]
    with write(engine) as conn:
        _ensure(conn, instance)
        conn.execute(update(instance_state).where(instance_state.c.instance == instance).values({column: clock.now()}))


def take_requests(engine: Engine) -> list[tuple[str, set[str]]]:
    """Pending requests, each cleared as it is taken. A request made while we read is not lost:
    a column is cleared only if it still holds the value we read."""
    taken: list[tuple[str, set[str]]] = []
    with write(engine) as conn:
        rows = conn.execute(
            select(instance_state.c.instance, *REQUEST_COLUMNS.values()).where(
                (instance_state.c.poll_requested_at.is_not(None))
                | (instance_state.c.maintenance_requested_at.is_not(None))
            )
        ).all()
        for row in rows:
            kinds = set()
            for what, column in REQUEST_COLUMNS.items():
                seen = getattr(row, column.name)
                if seen is None:
                    continue
                cleared = conn.execute(
                    update(instance_state)
                    .where(instance_state.c.instance == row.instance, column == seen)
                    .values({column: None})
                    .returning(instance_state.c.instance)
                ).first()
                if cleared is not None:
                    kinds.add(what)
            if kinds:
                taken.append((row.instance, kinds))
    return taken


def record_expiry(engine: Engine, instance: str, kind: str, at: datetime | None) -> None:
    """A connector reports when a credential, subscription or token runs out (None: no longer)."""
    with write(engine) as conn:
        _ensure(conn, instance)
        current = (
            conn.execute(select(instance_state.c.expiries).where(instance_state.c.instance == instance)).scalar() or {}
        )
        current = {**current}
        if at is None:
            current.pop(kind, None)
        else:
            current[kind] = clock.isoformat(at)
        conn.execute(update(instance_state).where(instance_state.c.instance == instance).values(expiries=current))


def all_states(conn: Connection) -> dict[str, Any]:
    return {row.instance: row for row in conn.execute(select(instance_state)).all()}
