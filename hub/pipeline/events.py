"""Looking at and replaying inbox events (CLI, API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update

from hub import clock
from hub.store.tables import inbox

STATES = ("received", "done", "ignored", "dead")


def summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance": row.instance,
        "dedup_key": row.dedup_key,
        "received_at": clock.isoformat(row.received_at),
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "ticket_id": row.ticket_id,
        "processed_at": clock.isoformat(row.processed_at) if row.processed_at else None,
    }


def listing(
    conn: Connection,
    *,
    state: str | None = None,
    instance: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    query = select(*[c for c in inbox.c if c.name not in ("body", "headers")])
    if state:
        query = query.where(inbox.c.state == state)
    if instance:
        query = query.where(inbox.c.instance == instance)
    if before_id:
        query = query.where(inbox.c.id < before_id)
    return [summary(r) for r in conn.execute(query.order_by(inbox.c.id.desc()).limit(limit)).all()]


def get(conn: Connection, event_id: int, *, with_body: bool = False) -> dict[str, Any] | None:
    row = conn.execute(select(inbox).where(inbox.c.id == event_id)).first()
    if row is None:
        return None
    doc = summary(row)
    doc["content_type"] = row.content_type
    if with_body:
        doc["headers"] = row.headers
        doc["body"] = bytes(row.body).decode("utf-8", errors="replace")
    return doc


def counts(conn: Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute(select(inbox.c.instance, inbox.c.state, func.count()).group_by(inbox.c.instance, inbox.c.state))
    return {(r[0], r[1]): int(r[2]) for r in rows}


def replay(conn: Connection, ids: Sequence[int] = (), *, all_dead: bool = False) -> int:
    """Send events back through normalize -> apply (after a mapping or config fix).
    Correlation makes a replay update the ticket it made before instead of creating another."""
    query = update(inbox).values(state="received", available_at=clock.now(), attempts=0, last_error=None)
    if all_dead:
        query = query.where(inbox.c.state == "dead")
    elif ids:
        query = query.where(inbox.c.id.in_(list(ids)), inbox.c.state != "received")
    else:
        return 0
    return int(conn.execute(query).rowcount)
