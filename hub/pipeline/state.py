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


def record_error(engine: Engine, instance: str, message: str, *, retry_after: float | None = None) -> None:
    """A failed poll: remembered for the admin and counted by the instance's inbound circuit."""
    now = clock.now()
    with write(engine) as conn:
        _ensure(conn, instance)
        conn.execute(
            update(instance_state)
            .where(instance_state.c.instance == instance)
            .values(last_poll_at=now, last_error=message[:2000], last_error_at=now)
        )
    circuit.record_failure(engine, instance, "in", message, retry_after)


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
