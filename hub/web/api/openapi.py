"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every endpoint this app serves.

Request bodies are the same schema objects the views validate against (hub.web.api.schemas);
tickets are described by schemas/ticket.schema.json. A test runs schemathesis against this
document and the live server, so a difference between the two fails the suite.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from flask import Response

from hub import schemas as canonical
from hub.pipeline.events import STATES
from hub.web.api import bp
from hub.web.api.common import json_response
from hub.web.api.schemas import NO_NUL, request_schemas
from hub.web.api.tickets import CHANNELS, STATUSES
from hub.web.problem import MEDIA_TYPE
from hub.web.tokens import SCOPES

REF = "#/components/schemas/"
NULLABLE_TS = {"type": ["string", "null"], "format": "date-time"}
ANY: dict[str, Any] = {}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _rewrite_refs(node: Any) -> Any:
    """`#/$defs/x` inside ticket.schema.json -> `#/components/schemas/x`."""
    if isinstance(node, dict):
        return {
            k: (re.sub(r"^#/\$defs/", REF, v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _ticket_components() -> dict[str, Any]:
    ticket = copy.deepcopy(canonical.load("ticket"))
    defs = ticket.pop("$defs")
    for key in ("$schema", "$id", "x-version"):
        ticket.pop(key, None)
    out = {name: _rewrite_refs(schema) for name, schema in defs.items()}
    out["Ticket"] = _rewrite_refs(ticket)
    detail = copy.deepcopy(out["Ticket"])
    detail["title"] = "Ticket with comments and history"
    detail["required"] = [*detail["required"], "comments", "history"]
    detail["properties"]["comments"] = {"type": "array", "items": _ref("Comment")}
    detail["properties"]["history"] = {"type": "array", "items": _ref("HistoryEntry")}
    out["TicketDetail"] = detail
    return out


def _object(properties: dict[str, Any], required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required if required is not None else list(properties),
        "additionalProperties": extra,
        "properties": properties,
    }


def _components() -> dict[str, Any]:
    event = {
        "id": {"type": "integer", "minimum": 1},
        "instance": {"type": "string"},
        "dedup_key": {"type": "string"},
        "received_at": {"type": "string", "format": "date-time"},
        "state": {"enum": list(STATES)},
        "attempts": {"type": "integer", "minimum": 0},
        "last_error": {"type": ["string", "null"]},
        "ticket_id": {"type": ["integer", "null"]},
        "processed_at": NULLABLE_TS,
    }
    detail_props = {
        **event,
        "content_type": {"type": "string"},
        "headers": {"type": "object", "description": "Only with the admin scope."},
        "body": {"type": "string", "description": "The raw payload (UTF-8); only with the admin scope."},
    }
    return {
        **_ticket_components(),
        **request_schemas(),
        "Problem": _object(
            {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": ["string", "null"]},
            },
            required=["type", "title", "status"],
            extra=True,
        ),
        "Comment": _object(
            {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "author": {"type": "object"},
                "body": {"type": "string"},
                "public": {"type": "boolean"},
                "attachments": {"type": "array", "items": _ref("attachment")},
            }
        ),
        "HistoryEntry": _object(
            {
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string", "description": "connector:<instance>, api:<token name>, system"},
                "action": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "old": ANY,
                "new": ANY,
                "event_id": {"type": ["integer", "null"], "description": "Inbox event that caused the change."},
            }
        ),
        "TicketPage": _object(
            {"items": {"type": "array", "items": _ref("Ticket")}, "next_cursor": {"type": ["string", "null"]}}
        ),
        "Event": _object(event),
        "EventDetail": _object(detail_props, required=[*event, "content_type"]),
        "EventPage": _object(
            {"items": {"type": "array", "items": _ref("Event")}, "next_cursor": {"type": ["string", "null"]}}
        ),
        "ReplayResult": _object({"replayed": {"type": "integer", "minimum": 0}}),
        "Connector": _object(
            {
                "id": {"type": "string"},
                "connector": {"type": "string"},
                "description": {"type": "string"},
                "enabled": {"type": "boolean"},
                "kind": {"enum": ["push", "poll"]},
                "schedule": {"type": ["string", "number", "null"]},
                "webhook_path": {"type": ["string", "null"]},
                "verify": {"type": ["string", "null"]},
                "state": _object(
                    {
                        "last_poll_at": NULLABLE_TS,
                        "last_success_at": NULLABLE_TS,
                        "last_error": {"type": ["string", "null"]},
                        "last_error_at": NULLABLE_TS,
                        "cursor": ANY,
                        "expiries": {"type": "object", "additionalProperties": {"type": "string"}},
                    }
                ),
                "health": _object(
                    {
                        "last_event_at": NULLABLE_TS,
                        "lag_seconds": {"type": ["number", "null"]},
                        "failures": {"type": "integer", "minimum": 0},
                        "circuit_in": {"enum": ["closed", "open", "half-open"]},
                        "circuit_out": {"enum": ["closed", "open", "half-open"]},
                        "seconds_to_expiry": {"type": ["number", "null"]},
                        "problems": {"type": "object", "additionalProperties": {"type": "string"}},
                    }
                ),
                "events": _object({s: {"type": "integer", "minimum": 0} for s in STATES}),
            }
        ),
        "ConnectorList": _object({"items": {"type": "array", "items": _ref("Connector")}}),
        "WebhookAccepted": _object(
            {
                "status": {"enum": ["accepted", "duplicate"]},
                "events": {
                    "type": "array",
                    "items": _object({"id": {"type": "integer"}, "duplicate": {"type": "boolean"}}),
                },
            }
        ),
        "Health": _object({"status": {"enum": ["ok", "unavailable"]}, "reason": {"type": "string"}}, ["status"]),
    }


PROBLEMS = {
    400: "Malformed request: bad query parameter or body that is not JSON (with its position).",
    401: "No token, or an unknown or revoked one.",
    403: "The token lacks the scope this operation needs.",
    404: "No such resource.",
    409: "The request conflicts with the resource's state.",
    411: "A body of unknown length through a server that does not end the stream.",
    413: "The body is larger than hub.web.max_body_bytes.",
    415: "The body is not application/json.",
    422: "The JSON body does not match the schema; `errors` lists each problem.",
    503: "The store is unavailable; retry after Retry-After seconds.",
}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _problems(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": PROBLEMS[c], "content": {MEDIA_TYPE: {"schema": _ref("Problem")}}} for c in codes}


def _op(
    op_id: str,
    summary: str,
    scope: str | None,
    ok: dict[str, Any],
    problems: tuple[int, ...],
    *,
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    tag: str = "tickets",
) -> dict[str, Any]:
    codes = set(problems) | ({401, 403, 503} if scope else set()) | ({400, 413, 415, 422} if body else set())
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "responses": {**ok, **_problems(*sorted(codes))},
    }
    if scope:
        op["security"] = [{"bearer": [scope]}]
        op["description"] = f"Needs the `{scope}` scope (or one that grants it)."
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return op


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


TEXT = {"type": "string", "pattern": NO_NUL}
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size.")
CURSOR = _query(
    "cursor", {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}, "Opaque: the `next_cursor` of the previous page."
)
TICKET_REF = _path("ref", {"type": "string", "minLength": 1}, "Ticket id or number (REQ-2026-000123).")
EVENT_ID = _path("event_id", {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}, "Inbox event id.")
LOCATION = {"Location": {"schema": {"type": "string"}, "description": "URL of the ticket."}}


def _paths() -> dict[str, Any]:
    ticket_filters = [
        _query("status", {"enum": list(STATUSES)}, "Only tickets with this status."),
        _query("queue", {**TEXT, "maxLength": 200}, "Only tickets in this queue."),
        _query("channel", {"enum": list(CHANNELS)}, "Only tickets that came in through this channel."),
        _query("requester", {**TEXT, "maxLength": 320}, "Requester's email address."),
        _query("updated_since", {"type": "string", "format": "date-time"}, "Changed at or after this time."),
        _query("q", {**TEXT, "maxLength": 200}, "Text in the title or description, or a ticket number."),
        LIMIT,
        CURSOR,
    ]
    idempotency = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 200, "pattern": NO_NUL},
        "description": "A retry with the same key returns the ticket the first request created (200).",
    }
    sw_headers = [
        {"name": n, "in": "header", "required": False, "schema": {"type": "string"}, "description": d}
        for n, d in (
            ("webhook-id", "Standard Webhooks delivery id; also the idempotency key."),
            ("webhook-timestamp", "Standard Webhooks: Unix seconds, within the instance's tolerance."),
            ("webhook-signature", "Standard Webhooks: space-separated `v1,<base64>` signatures."),
        )
    ]
    return {
        "/api/v1/tickets": {
            "get": _op(
                "listTickets",
                "List tickets, newest first",
                "tickets:read",
                {"200": _json(_ref("TicketPage"), "A page of tickets.")},
                (400,),
                params=ticket_filters,
            ),
            "post": _op(
                "createTicket",
                "Create a ticket (staff tools)",
                "tickets:write",
                {
                    "201": _json(_ref("TicketDetail"), "Created.", LOCATION),
                    "200": _json(_ref("TicketDetail"), "Already created with this Idempotency-Key.", LOCATION),
                },
                (503,),
                params=[idempotency],
                body="TicketCreate",
            ),
        },
        "/api/v1/tickets/{ref}": {
            "get": _op(
                "getTicket",
                "A ticket with its comments and history",
                "tickets:read",
                {"200": _json(_ref("TicketDetail"), "The ticket.")},
                (404,),
                params=[TICKET_REF],
            ),
            "patch": _op(
                "updateTicket",
                "Change status, priority, queue, assignee, category or title",
                "tickets:write",
                {"200": _json(_ref("TicketDetail"), "The updated ticket.")},
                (404, 503),
                params=[TICKET_REF],
                body="TicketUpdate",
            ),
        },
        "/api/v1/tickets/{ref}/comments": {
            "post": _op(
                "addComment",
                "Add a public or internal comment",
                "tickets:write",
                {"201": _json(_ref("Comment"), "Added.", LOCATION)},
                (404, 503),
                params=[TICKET_REF],
                body="CommentCreate",
            ),
        },
        "/api/v1/events": {
            "get": _op(
                "listEvents",
                "Inbox events and dead letters, newest first",
                "events:admin",
                {"200": _json(_ref("EventPage"), "A page of events.")},
                (400,),
                params=[
                    _query("state", {"enum": list(STATES)}, "Only events in this state (`dead`: dead letters)."),
                    _query("instance", {**TEXT, "maxLength": 64}, "Only events of this connector instance."),
                    LIMIT,
                    CURSOR,
                ],
                tag="events",
            ),
        },
        "/api/v1/events/{event_id}": {
            "get": _op(
                "getEvent",
                "One event; the raw payload and headers only with the admin scope",
                "events:admin",
                {"200": _json(_ref("EventDetail"), "The event.")},
                (404,),
                params=[EVENT_ID],
                tag="events",
            ),
        },
        "/api/v1/events/{event_id}/replay": {
            "post": _op(
                "replayEvent",
                "Run one event through normalize and apply again",
                "events:admin",
                {"202": _json(_ref("ReplayResult"), "Queued for the worker.")},
                (404, 409, 503),
                params=[EVENT_ID],
                tag="events",
            ),
        },
        "/api/v1/events/replay": {
            "post": _op(
                "replayEvents",
                "Replay several events, or every dead letter",
                "events:admin",
                {"202": _json(_ref("ReplayResult"), "Queued for the worker.")},
                (503,),
                body="Replay",
                tag="events",
            ),
        },
        "/api/v1/connectors": {
            "get": _op(
                "listConnectors",
                "Configured connector instances with their state",
                "events:admin",
                {"200": _json(_ref("ConnectorList"), "Every configured instance.")},
                (),
                tag="connectors",
            ),
        },
        "/api/v1/connectors/{instance_id}": {
            "get": _op(
                "getConnector",
                "One connector instance with its state",
                "events:admin",
                {"200": _json(_ref("Connector"), "The instance.")},
                (404,),
                params=[_path("instance_id", {"type": "string", "minLength": 1}, "Instance id.")],
                tag="connectors",
            ),
        },
        "/hooks/{instance_id}": {
            "post": {
                "operationId": "receiveWebhook",
                "summary": "Receive a pushed event for one connector instance",
                "description": (
                    "Verified with the instance's `verify` scheme (Standard Webhooks, HMAC-SHA256 header or "
                    "shared token) on the raw body before parsing. 202 once the event is committed to the "
                    "inbox; 200 when it was already there (a redelivery)."
                ),
                "tags": ["webhooks"],
                "parameters": [_path("instance_id", {"type": "string", "minLength": 1}, "Instance id."), *sw_headers],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ANY}}},
                "responses": {
                    "202": _json(_ref("WebhookAccepted"), "Stored durably; processing follows."),
                    "200": _json(_ref("WebhookAccepted"), "Already received: nothing new stored."),
                    **_problems(400, 401, 404, 411, 413, 415, 503),
                },
            }
        },
        "/healthz": {"get": _plain("healthz", "The process is up", {"200": _json(_ref("Health"), "Up.")})},
        "/readyz": {
            "get": _plain(
                "readyz",
                "The database answers and its schema is current",
                {"200": _json(_ref("Health"), "Ready."), "503": _json(_ref("Health"), "Not ready, with the reason.")},
            )
        },
        "/metrics": {
            "get": _plain(
                "metrics",
                "Prometheus metrics (text exposition format 0.0.4)",
                {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            )
        },
        "/api/v1/openapi.json": {
            "get": _plain("openapi", "This document", {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")})
        },
    }


def _plain(op_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"operationId": op_id, "summary": summary, "tags": ["operations"], "responses": responses}


@cache
def document() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Service desk hub",
            "version": version("service-desk-hub"),
            "description": "Tickets, inbox events and connector state; webhook intake. Scopes: "
            + ", ".join(f"`{s}`" for s in SCOPES)
            + " (`tickets:write` grants `tickets:read`; `admin` grants all).",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "`hub tokens create`"}},
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return json_response(document())
