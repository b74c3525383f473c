"""/api/v1/tickets: list, read, create, update, comment."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from sqlalchemy import Connection

from hub import clock
from hub.app import current_hub
from hub.store.db import read, write
from hub.tickets import queries, service
from hub.tickets.service import Actor
from hub.web.api import bp
from hub.web.api.common import (
    current_token,
    cursor_arg,
    datetime_arg,
    enum_arg,
    id_or_none,
    json_body,
    json_response,
    limit_arg,
    page,
    requires,
    text_arg,
)
from hub.web.problem import Problem

API_INSTANCE = "api"  # tickets created through the API have this as their source instance
STATUSES = ("new", "triaged", "assigned", "in_progress", "waiting_on_requester", "resolved", "closed", "cancelled")
CHANNELS = (
    "email", "m365_mail", "teams", "web", "open311", "phone", "webhook", "hr", "finance", "api", "file", "internal",
)  # fmt: skip


def _actor() -> Actor:
    return Actor(f"api:{current_token().name}")


def _find(conn: Connection, ref: str) -> dict[str, Any]:
    """A ticket by id or number, or 404."""
    found = None
    if ref.isdigit():
        if id_or_none(ref) is not None:
            found = queries.get(conn, int(ref))
    elif len(ref) <= 40 and "\x00" not in ref:
        found = queries.get(conn, ref)
    if found is None:
        raise Problem(404, f"no ticket {ref}")
    return found


def _full(conn: Connection, ticket_id: int) -> dict[str, Any]:
    doc = queries.get(conn, ticket_id)
    assert doc is not None
    doc["comments"] = queries.comment_list(conn, ticket_id)
    doc["history"] = queries.history(conn, ticket_id)
    return doc


@bp.get("/tickets")
@requires("tickets:read")
def list_tickets() -> Response:
    limit = limit_arg()
    filters = {
        "status": enum_arg("status", STATUSES),
        "queue": text_arg("queue", 200),
        "channel": enum_arg("channel", CHANNELS),
        "requester": text_arg("requester", 320),
        "text": text_arg("q", 200),
        "updated_since": datetime_arg("updated_since"),
    }
    with read(current_hub().engine) as conn:
        items = queries.search(conn, **filters, after_id=cursor_arg(), limit=limit)  # type: ignore[arg-type]
    return json_response(page(items, limit))


@bp.get("/tickets/<ref>")
@requires("tickets:read")
def get_ticket(ref: str) -> Response:
    with read(current_hub().engine) as conn:
        return json_response(_full(conn, _find(conn, ref)["id"]))


@bp.post("/tickets")
@requires("tickets:write")
def create_ticket() -> Response:
    body = json_body("TicketCreate")
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200 or "\x00" in key:
        raise Problem(400, "Idempotency-Key must be at most 200 characters")
    token, now = current_token(), clock.now()
    hub = current_hub()
    scope = f"api:{token.id}"
    with write(hub.engine) as conn:
        known = service.find_ref(conn, "idempotency", scope, [key]) if key else None
        if known is not None:  # the client retried: same answer, no second ticket
            return json_response(_full(conn, known), 200, {"Location": f"/api/v1/tickets/{known}"})
        data = {"channel": "api", **body}
        ticket_id = service.create_ticket(
            conn,
            data,
            instance=API_INSTANCE,
            connector="api",
            channel=data["channel"],
            prefix=hub.settings.ticket_prefix,
            actor=_actor(),
            now=now,
        )
        if key:
            service.add_ref(conn, "idempotency", scope, key, ticket_id)
        doc = _full(conn, ticket_id)
    return json_response(doc, 201, {"Location": f"/api/v1/tickets/{ticket_id}"})


@bp.patch("/tickets/<ref>")
@requires("tickets:write")
def update_ticket(ref: str) -> Response:
    body = json_body("TicketUpdate")
    actor, now = _actor(), clock.now()
    with write(current_hub().engine) as conn:
        ticket = _find(conn, ref)
        service.apply_update(conn, ticket["id"], body, actor=actor, now=now, note=body.get("note"))
        doc = _full(conn, ticket["id"])
    return json_response(doc)


@bp.post("/tickets/<ref>/comments")
@requires("tickets:write")
def add_comment(ref: str) -> Response:
    body = json_body("CommentCreate")
    actor, now = _actor(), clock.now()
    with write(current_hub().engine) as conn:
        ticket = _find(conn, ref)
        comment_id = service.add_comment(
            conn,
            ticket["id"],
            {"body": body["body"], "public": body.get("public", False), "author": {"name": actor.name}},
            actor=actor,
            now=now,
            from_requester=False,
        )
        comment = next(c for c in queries.comment_list(conn, ticket["id"]) if c["id"] == comment_id)
    return json_response(comment, 201, {"Location": f"/api/v1/tickets/{ticket['id']}"})
