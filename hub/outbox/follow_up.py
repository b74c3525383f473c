"""Answering ticket changes on the channel a ticket came from.

A ticket listener (same transaction as the change) asks the connector of the ticket's source
instance what to send (`Connector.follow_up`, pure) and queues each answer in the outbox with its
idempotency key, recording the thread ids the answer will carry, so a reply to an acknowledgement
or a status mail finds its ticket again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from hub.outbox.queue import enqueue
from hub.runtime import hub_for
from hub.sdk.connector import Connector, TicketChange
from hub.tickets import queries, rows, service

log = logging.getLogger("hub.outbox.follow_up")


def install() -> None:
    """Register the listener once per process."""
    if on_change not in service.listeners:
        service.listeners.append(on_change)


def on_change(conn: Connection, change: service.Change, now: datetime) -> None:
    hub = hub_for(conn.engine)
    if hub is None:
        return
    row = rows.load(conn, change.ticket_id)
    if row is None:
        return
    try:
        connector = hub.connector(row.source_instance)
    except LookupError:  # the instance was removed from the config since the ticket was made
        return
    if type(connector).follow_up is Connector.follow_up:
        return
    ticket = queries.document(row, rows.subscribers(conn, change.ticket_id))
    answer = TicketChange(
        action=change.action,
        ticket=ticket,
        fields=dict(change.fields),
        version=int(row.version),
        at=now,
        comment=_comment(change),
        thread_refs=tuple(ticket["source"].get("thread_refs") or ()),
    )
    for out in connector.follow_up(answer):
        queued = enqueue(
            conn,
            instance=row.source_instance,
            action=out.action,
            payload=out.payload,
            idempotency_key=f"{row.source_instance}:{out.key}",
            ticket_id=change.ticket_id,
        )
        if queued:
            for ref in out.thread_refs:
                service.add_ref(conn, "thread", "", ref, change.ticket_id)


def _comment(change: service.Change) -> dict[str, Any] | None:
    r = change.comment
    if r is None:
        return None
    return {
        "id": r.id,
        "body": r.body,
        "body_html": r.body_html,
        "public": r.public,
        "author": r.author or {},
        "attachments": r.attachments or [],
        "from_source": r.inbox_id is not None,
    }
