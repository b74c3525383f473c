"""Apply one validated canonical event to the tickets, inside the worker's transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from hub.pipeline import correlate
from hub.runtime import Hub
from hub.sdk.errors import IgnoreRecord, SkipRecord
from hub.store.tables import comments, outbox, tickets
from hub.tickets import service
from hub.tickets.service import Actor


class TicketNotFound(SkipRecord):
    """No ticket matches yet. The worker defers the event a few times (its ticket may still be on
    its way through another worker) before dead-lettering it."""


class Conflict(Exception):
    """Another worker created the same ticket at the same moment; retry the event shortly."""


@dataclass
class ApplyContext:
    conn: Connection
    hub: Hub
    inbox_id: int
    dedup_key: str
    now: datetime
    # False when this inbox row was never processed (committed) before: nothing it made can exist
    replay: bool = True

    def actor(self, event: dict[str, Any]) -> Actor:
        email = (event.get("actor") or {}).get("email")
        return Actor(f"connector:{event['instance']}", self.inbox_id, email, event["instance"])


Handler = Callable[[ApplyContext, dict[str, Any]], int]
handlers: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for etype in types:
            handlers[etype] = fn
        return fn

    return register


def apply_event(ctx: ApplyContext, event: dict[str, Any]) -> int | None:
    """Returns the id of the ticket the event landed on."""
    handler = handlers.get(event["type"])
    if handler is None:
        raise SkipRecord(f"no handler for event type {event['type']!r}")
    return handler(ctx, event)


def _target(ctx: ApplyContext, event: dict[str, Any]) -> int:
    ticket_id = correlate.existing_ticket(ctx.conn, event)
    if ticket_id is None:
        what = event.get("external_id") or ", ".join(event.get("in_reply_to") or []) or event.get("ticket_number")
        raise TicketNotFound(f"no ticket matches {what or 'this event'} for instance {event['instance']!r}")
    return ticket_id


@handles("ticket.create")
def _create(ctx: ApplyContext, event: dict[str, Any]) -> int:
    conn, data, actor = ctx.conn, event["data"], ctx.actor(event)
    instance = event["instance"]
    known = correlate.by_external_id_or_origin(conn, event, ctx.dedup_key)
    if known:  # the source sent its ticket again: bring ours up to date, never a second ticket
        service.apply_update(conn, known, data, actor=actor, now=ctx.now)
        return known
    thread = correlate.by_thread(conn, event) or correlate.by_number(conn, event)
    if thread:  # a reply to a known conversation is a comment on its ticket
        _comment_once(
            ctx,
            thread,
            {
                "body": data.get("reply_body") or data.get("description") or data["title"],
                "body_html": data.get("description_html"),
                "public": True,
                "author": data.get("requester") or {},
                "attachments": data.get("attachments", []),
            },
            actor,
        )
        for ref in event.get("thread_refs") or []:
            service.add_ref(conn, "thread", "", ref, thread)
        return thread
    inst = ctx.hub.instance(instance)
    connector = ctx.hub.connector(instance)
    _check_sender_limit(ctx, event)
    merged = {k: v for k, v in {**inst.defaults, **data}.items() if k != "reply_body"}
    try:
        ticket_id = service.create_ticket(
            conn,
            merged,
            instance=instance,
            connector=inst.connector,
            channel=connector.channel,
            prefix=ctx.hub.settings.ticket_prefix,
            actor=actor,
            now=ctx.now,
            external_id=event.get("external_id"),
            thread_refs=event.get("thread_refs"),
            origin=ctx.dedup_key,
        )
    except service.RefTaken as exc:
        raise Conflict(f"{exc}: created by a concurrent event") from exc
    return ticket_id


def _check_sender_limit(ctx: ApplyContext, event: dict[str, Any]) -> None:
    """A sender past the instance's limit of new tickets is ignored (mail storms, broken
    auto-responders): the event is kept as `ignored` with the reason and triggers nothing."""
    limit = ctx.hub.connector(event["instance"]).sender_limit()
    sender = ((event.get("actor") or {}).get("email") or "").strip().lower()
    if limit is None or not sender:
        return
    since = ctx.now - timedelta(seconds=limit.per_seconds)
    count = ctx.conn.execute(
        select(func.count())
        .select_from(tickets)
        .where(
            tickets.c.source_instance == event["instance"],
            tickets.c.requester_email == sender,
            tickets.c.created_at >= since,
        )
    ).scalar_one()
    if count >= limit.count:
        raise IgnoreRecord(
            f"rate limit: {sender} opened {count} tickets in the last {limit.per_seconds:.0f}s "
            f"(limit {limit.count}); no ticket created"
        )


def _comment_once(ctx: ApplyContext, ticket_id: int, data: dict[str, Any], actor: Actor) -> None:
    """Replaying an event must not add its comment twice."""
    seen = (
        ctx.replay and ctx.conn.execute(_COMMENT_OF_EVENT, {"ticket_id": ticket_id, "inbox_id": ctx.inbox_id}).first()
    )
    if not seen:
        sender = (data.get("author") or {}).get("email") or actor.email
        service.add_comment(
            ctx.conn,
            ticket_id,
            data,
            actor=actor,
            now=ctx.now,
            from_requester=service.is_party(ctx.conn, ticket_id, sender),
        )


_COMMENT_OF_EVENT = select(comments.c.id).where(
    comments.c.ticket_id == bindparam("ticket_id"), comments.c.inbox_id == bindparam("inbox_id")
)


@handles("ticket.comment")
def _comment(ctx: ApplyContext, event: dict[str, Any]) -> int:
    ticket_id = _target(ctx, event)
    _comment_once(ctx, ticket_id, event["data"], ctx.actor(event))
    for ref in event.get("thread_refs") or []:
        service.add_ref(ctx.conn, "thread", "", ref, ticket_id)
    return ticket_id


@handles("ticket.status")
def _status(ctx: ApplyContext, event: dict[str, Any]) -> int:
    ticket_id = _target(ctx, event)
    data = event["data"]
    service.change_status(
        ctx.conn, ticket_id, data["status"], actor=ctx.actor(event), now=ctx.now, note=data.get("note")
    )
    return ticket_id


@handles("ticket.update")
def _update(ctx: ApplyContext, event: dict[str, Any]) -> int:
    ticket_id = _target(ctx, event)
    service.update_fields(ctx.conn, ticket_id, event["data"], actor=ctx.actor(event), now=ctx.now)
    return ticket_id


@handles("delivery.failed")
def _delivery_failed(ctx: ApplyContext, event: dict[str, Any]) -> int:
    """Something we sent bounced: the outbox row that sent it turns dead with the reason, and the
    ticket shows it (history and an internal note), so an agent can reach the requester otherwise."""
    data = event["data"]
    ticket_id = correlate.by_thread(ctx.conn, {"in_reply_to": [data["message_id"], *(event.get("in_reply_to") or [])]})
    if ticket_id is None:
        raise TicketNotFound(f"no ticket sent {data['message_id']}")
    who = ", ".join(
        f"{r['address']} ({'; '.join(filter(None, [r.get('status'), r.get('diagnostic')])) or 'no detail'})"
        for r in data.get("recipients") or []
    )
    reason = f"delivery failed: {data['reason']}" + (f" - {who}" if who else "")
    replayed = ctx.conn.execute(_COMMENT_OF_EVENT, {"ticket_id": ticket_id, "inbox_id": ctx.inbox_id}).first()
    if replayed is not None:
        return ticket_id
    rows = ctx.conn.execute(
        select(outbox.c.id, outbox.c.payload, outbox.c.action).where(outbox.c.ticket_id == ticket_id)
    ).all()
    sent = [r for r in rows if (r.payload or {}).get("message_id") == data["message_id"]]
    if sent and data.get("permanent", True):
        ctx.conn.execute(
            update(outbox).where(outbox.c.id.in_([r.id for r in sent])).values(state="dead", last_error=reason)
        )
    service.write_history(
        ctx.conn,
        [
            {
                "ticket_id": ticket_id,
                "at": ctx.now,
                "actor": ctx.actor(event).name,
                "action": "delivery_failed",
                "field": sent[0].action if sent else None,
                "new": reason,
                "inbox_id": ctx.inbox_id,
            }
        ],
    )
    note = {"body": reason, "public": False, "author": {"name": "delivery report"}}
    service.add_comment(ctx.conn, ticket_id, note, actor=ctx.actor(event), now=ctx.now, from_requester=False)
    return ticket_id


_PERSON_TICKETS = {
    "person.joiner": ("onboarding", "Onboarding"),
    "person.mover": ("transfer", "Transfer"),
    "person.leaver": ("offboarding", "Offboarding"),
}


@handles("person.joiner", "person.mover", "person.leaver")
def _person(ctx: ApplyContext, event: dict[str, Any]) -> int:
    """An HR event starts, corrects or cancels a workflow (hub/tickets/workflows). Where no
    template applies, it becomes one ticket for the HR/IT queue."""
    from hub.tickets.workflows import engine

    found = engine.handle(ctx, event)
    if found is not None:
        return found
    data, person = event["data"], event["data"]["person"]
    ticket_type, label = _PERSON_TICKETS[event["type"]]
    name = person.get("name") or " ".join(filter(None, [person.get("given_name"), person.get("family_name")]))
    ticket = {
        "type": ticket_type,
        "title": f"{label}: {name or person['employee_id']} ({data['effective_at'][:10]})",
        "description": "\n".join(f"{k}: {v}" for k, v in person.items() if v),
        "requester": {
            "name": name or None,
            "email": person.get("email"),
            "employee_id": person["employee_id"],
            "kind": "employee",
        },
        "attributes": {"person": person, "effective_at": data["effective_at"], "changes": data.get("changes", {})},
    }
    key = f"{event['type']}:{person['employee_id']}:{data['effective_at']}"
    return _create(ctx, {**event, "type": "ticket.create", "external_id": key, "data": ticket})
