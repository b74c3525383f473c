"""Which ticket an event belongs to.

Order of evidence: the source's own id for the ticket (external id), the raw event itself (a
replay), the thread it answers (In-Reply-To / References / conversation ids), and last a ticket
number quoted in the text, trusted only when the sender is already a party of that ticket: a
stranger must never be able to write into someone else's ticket.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, union_all

from hub.store.tables import ticket_refs, tickets
from hub.tickets import rows
from hub.tickets.service import find_ref, is_party


def by_external_id(conn: Connection, event: dict[str, Any]) -> int | None:
    external_id = event.get("external_id")
    return find_ref(conn, "external", event["instance"], [external_id]) if external_id else None


def by_external_id_or_origin(conn: Connection, event: dict[str, Any], dedup_key: str) -> int | None:
    """By the source's id for the ticket, else the ticket an earlier processing of this same raw
    event created (a replay), in one query: the first thing every create asks."""
    instance, external_id = event["instance"], event.get("external_id")
    by_external = rows.refs_known(conn, [("external", instance, external_id)]) if external_id else []
    by_origin = rows.refs_known(conn, [("event", instance, dedup_key)])
    if by_external is not None and by_origin is not None:  # read ahead for the batch
        known = by_external or by_origin
        return known[0] if known else None
    found = conn.execute(
        _EXTERNAL_OR_ORIGIN,
        {"instance": event["instance"], "external_id": event.get("external_id") or "", "dedup_key": dedup_key},
    ).all()
    by_kind = {kind: ticket_id for kind, ticket_id in found}
    ticket_id = by_kind.get("external") or by_kind.get("event")
    return int(ticket_id) if ticket_id else None


# Two exact primary-key lookups, not one OR: a generic plan PostgreSQL prepared while the table
# was empty scanned every ref of the scope for the OR form (the bench's PostgreSQL worker was
# bound by it).
_EXTERNAL_OR_ORIGIN = union_all(
    select(ticket_refs.c.kind, ticket_refs.c.ticket_id).where(
        ticket_refs.c.kind == "external",
        ticket_refs.c.scope == bindparam("instance"),
        ticket_refs.c.key == bindparam("external_id"),
    ),
    select(ticket_refs.c.kind, ticket_refs.c.ticket_id).where(
        ticket_refs.c.kind == "event",
        ticket_refs.c.scope == bindparam("instance"),
        ticket_refs.c.key == bindparam("dedup_key"),
    ),
)


def by_thread(conn: Connection, event: dict[str, Any]) -> int | None:
    return find_ref(conn, "thread", "", list(event.get("in_reply_to") or []))


def by_number(conn: Connection, event: dict[str, Any]) -> int | None:
    number = (event.get("ticket_number") or "").strip().upper()
    if not number:
        return None
    ticket_id = conn.execute(_BY_NUMBER, {"number": number}).scalar()
    if ticket_id is None:
        return None
    sender = (event.get("actor") or {}).get("email")
    return int(ticket_id) if is_party(conn, int(ticket_id), sender) else None


_BY_NUMBER = select(tickets.c.id).where(tickets.c.number == bindparam("number"))


def prefetch(conn: Connection, events: list[tuple[dict[str, Any], str]]) -> None:
    """Read ahead what a batch of (event, dedup key) will be correlated by - the source's ids, the
    events' own keys (replays), the threads they answer - and the thread ids they bring (whether
    one is taken decides how a new ticket's refs are written)."""
    refs: set[rows.Ref] = set()
    for event, dedup_key in events:
        instance = event["instance"]
        if event.get("external_id"):
            refs.add(("external", instance, event["external_id"]))
        if event["type"] == "ticket.create":
            refs.add(("event", instance, dedup_key))
        refs.update(
            ("thread", "", ref) for ref in [*(event.get("in_reply_to") or []), *(event.get("thread_refs") or [])]
        )
    rows.prefetch(conn, refs)


def existing_ticket(conn: Connection, event: dict[str, Any]) -> int | None:
    """The ticket a comment/status/update event is about, or None."""
    return by_external_id(conn, event) or by_thread(conn, event) or by_number(conn, event)
