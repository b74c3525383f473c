"""Putting work in the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from hub import clock
from hub.store.tables import outbox
from hub.tickets.service import insert_ignore


def enqueue(
    conn: Connection,
    *,
    instance: str,
    action: str,
    payload: dict[str, Any],
    idempotency_key: str,
    ticket_id: int | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queue an action; a second enqueue with the same key is ignored (returns False)."""
    now = clock.now()
    return insert_ignore(
        conn,
        outbox,
        {
            "created_at": now,
            "instance": instance,
            "action": action,
            "payload": payload,
            "idempotency_key": idempotency_key,
            "ticket_id": ticket_id,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": not_before or now,
        },
    )


def reschedule(conn: Connection, idempotency_key: str, not_before: datetime) -> bool:
    """Move a still pending action to another time (a changed termination date); False when it
    already ran or is not queued."""
    statement = (
        update(outbox)
        .where(outbox.c.idempotency_key == idempotency_key, outbox.c.state == "pending")
        .values(next_attempt_at=not_before)
    )
    return bool(conn.execute(statement).rowcount)


def cancel(conn: Connection, idempotency_key: str, reason: str) -> bool:
    """Withdraw a pending or dead action (a rescinded hire): state `cancelled`, never dispatched."""
    statement = (
        update(outbox)
        .where(outbox.c.idempotency_key == idempotency_key, outbox.c.state.in_(("pending", "dead")))
        .values(state="cancelled", last_error=reason)
    )
    return bool(conn.execute(statement).rowcount)


def listing(conn: Connection, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    query = select(outbox)
    if state:
        query = query.where(outbox.c.state == state)
    rows = conn.execute(query.order_by(outbox.c.id.desc()).limit(limit)).all()
    return [
        {
            "id": r.id,
            "instance": r.instance,
            "action": r.action,
            "state": r.state,
            "attempts": r.attempts,
            "ticket_id": r.ticket_id,
            "next_attempt_at": clock.isoformat(r.next_attempt_at),
            "last_error": r.last_error,
            "result": r.result,
        }
        for r in rows
    ]
