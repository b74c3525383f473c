"""Reading tickets back as canonical documents (the shape of schemas/ticket.schema.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, or_, select

from hub.clock import isoformat
from hub.store.tables import comments, subscribers, ticket_history, tickets


def _ts(value: datetime | None) -> str | None:
    return isoformat(value) if value else None


def document(row: Row[Any], subs: list[Row[Any]] | None = None) -> dict[str, Any]:
    """A ticket row as its canonical document."""
    doc: dict[str, Any] = {
        "id": row.id,
        "number": row.number,
        "type": row.type,
        "title": row.title,
        "description": row.description or "",
        "description_html": row.description_html,
        "status": row.status,
        "priority": row.priority,
        "category": row.category,
        "queue": row.queue,
        "assignee": row.assignee,
        "requester": row.requester,
        "channel": row.channel,
        "source": row.source,
        "location": row.location,
        "attachments": row.attachments,
        "parent_id": row.parent_id,
        "duplicate_of_id": row.duplicate_of_id,
        "subscribers": [
            {"address": s.address, "name": s.name, "channel": s.channel, "role": s.role} for s in subs or []
        ],
        "sla": row.sla,
        "created_at": _ts(row.created_at),
        "updated_at": _ts(row.updated_at),
        "first_response_at": _ts(row.first_response_at),
        "resolved_at": _ts(row.resolved_at),
        "closed_at": _ts(row.closed_at),
        "tags": row.tags,
        "attributes": row.attributes,
    }
    return doc


def get(conn: Connection, ref: int | str) -> dict[str, Any] | None:
    """A ticket by id or number (REQ-2026-000123), with subscribers."""
    if isinstance(ref, int) or str(ref).isdigit():
        where = tickets.c.id == int(ref)
    else:
        where = tickets.c.number == str(ref).upper()
    row = conn.execute(select(tickets).where(where)).first()
    if row is None:
        return None
    subs = conn.execute(
        select(subscribers).where(subscribers.c.ticket_id == row.id).order_by(subscribers.c.added_at)
    ).all()
    return document(row, list(subs))


def history(conn: Connection, ticket_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(ticket_history).where(ticket_history.c.ticket_id == ticket_id).order_by(ticket_history.c.id)
    ).all()
    return [
        {
            "at": _ts(r.at),
            "actor": r.actor,
            "action": r.action,
            "field": r.field,
            "old": r.old,
            "new": r.new,
            "event_id": r.inbox_id,
        }
        for r in rows
    ]


def comment_list(conn: Connection, ticket_id: int, public_only: bool = False) -> list[dict[str, Any]]:
    query = select(comments).where(comments.c.ticket_id == ticket_id)
    if public_only:
        query = query.where(comments.c.public.is_(True))
    return [
        {
            "id": r.id,
            "at": _ts(r.at),
            "author": r.author,
            "body": r.body,
            "public": r.public,
            "attachments": r.attachments,
        }
        for r in conn.execute(query.order_by(comments.c.id)).all()
    ]


def search(
    conn: Connection,
    *,
    status: str | None = None,
    queue: str | None = None,
    channel: str | None = None,
    requester: str | None = None,
    text: str | None = None,
    updated_since: datetime | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated by id (`after_id` = last id of the previous page)."""
    query = select(tickets)
    if status:
        query = query.where(tickets.c.status == status)
    if queue:
        query = query.where(tickets.c.queue == queue)
    if channel:
        query = query.where(tickets.c.channel == channel)
    if requester:
        query = query.where(tickets.c.requester_email == requester.lower())
    if updated_since:
        query = query.where(tickets.c.updated_at >= updated_since)
    if text:
        like = f"%{text}%"
        query = query.where(
            or_(tickets.c.title.ilike(like), tickets.c.description.ilike(like), tickets.c.number == text.upper())
        )
    if after_id:
        query = query.where(tickets.c.id < after_id)
    rows = conn.execute(query.order_by(tickets.c.id.desc()).limit(limit)).all()
    return [document(r) for r in rows]
