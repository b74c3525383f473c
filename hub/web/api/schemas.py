"""JSON Schemas of the API's request and response bodies.

One source for two uses: request bodies are validated against these (compiled jsonschema-rs), and
the OpenAPI document publishes the very same objects, so the document cannot drift from what the
server accepts. Ticket shapes come from schemas/ticket.schema.json.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import jsonschema_rs

from hub import schemas as canonical
from hub.tickets.service import OPEN_STATUSES

NO_NUL = r"^[^\u0000]*$"  # PostgreSQL text cannot hold NUL; refuse it up front (422), not as a 500


def _ticket_defs() -> dict[str, Any]:
    defs: dict[str, Any] = copy.deepcopy(canonical.load("ticket")["$defs"])
    email = defs["person"]["properties"]["email"]
    email["pattern"] = r"^[^@\s\u0000]+@[^@\s\u0000]+$"
    return defs


def _no_nul(schema: Any) -> Any:
    """Add NO_NUL to every string without a pattern of its own, throughout a schema."""
    if isinstance(schema, dict):
        types = schema.get("type")
        is_string = types == "string" or (isinstance(types, list) and "string" in types)
        out = {k: _no_nul(v) for k, v in schema.items()}
        if is_string and "pattern" not in schema and "enum" not in schema and "format" not in schema:
            out["pattern"] = NO_NUL
        return out
    if isinstance(schema, list):
        return [_no_nul(v) for v in schema]
    return schema


def _text(max_length: int, nullable: bool = False) -> dict[str, Any]:
    return {"type": ["string", "null"] if nullable else "string", "maxLength": max_length}


@cache
def request_schemas() -> dict[str, dict[str, Any]]:
    defs = _ticket_defs()
    status_values = defs["status"]["enum"]
    ticket_create = {
        "type": "object",
        "additionalProperties": False,
        "required": ["title"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 500},
            "description": _text(100_000),
            "type": defs["ticket_type"],
            "priority": defs["priority"],
            "status": {"enum": list(OPEN_STATUSES)},
            "category": _text(200, nullable=True),
            "queue": _text(200, nullable=True),
            "assignee": _text(320, nullable=True),
            "channel": defs["channel"],
            "requester": defs["person"],
            "location": defs["location"],
            "tags": {"type": "array", "maxItems": 50, "items": {"type": "string", "minLength": 1, "maxLength": 100}},
            "attributes": {"type": "object"},
        },
    }
    ticket_update = {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "status": {"enum": status_values},
            "note": {**_text(100_000), "minLength": 1, "description": "Public comment added with a status change."},
            "priority": defs["priority"],
            "queue": _text(200, nullable=True),
            "assignee": _text(320, nullable=True),
            "category": _text(200, nullable=True),
            "title": {"type": "string", "minLength": 1, "maxLength": 500},
        },
        "dependentRequired": {"note": ["status"]},
    }
    comment_create = {
        "type": "object",
        "additionalProperties": False,
        "required": ["body"],
        "properties": {
            "body": {"type": "string", "minLength": 1, "maxLength": 100_000},
            "public": {
                "type": "boolean",
                "default": False,
                "description": "true: the requester sees it (and is notified); false: internal note.",
            },
        },
    }
    replay = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            },
            "all_dead": {"const": True},
        },
        "oneOf": [{"required": ["ids"]}, {"required": ["all_dead"]}],
    }
    found = {
        "TicketCreate": ticket_create,
        "TicketUpdate": ticket_update,
        "CommentCreate": comment_create,
        "Replay": replay,
    }
    return {name: _no_nul(schema) for name, schema in found.items()}


@cache
def _validator(name: str) -> Any:
    return jsonschema_rs.validator_for(request_schemas()[name], validate_formats=True)


def check(name: str, document: Any) -> list[dict[str, str]]:
    """[] when `document` is valid, else one {path, message} per problem."""
    validator = _validator(name)
    if validator.is_valid(document):
        return []
    return [
        {"path": canonical.format_path(e.instance_path) or "(body)", "message": e.message}
        for e in validator.iter_errors(document)
    ]


@cache
def _datetime_validator() -> Any:
    return jsonschema_rs.validator_for({"type": "string", "format": "date-time"}, validate_formats=True)


def is_datetime(value: str) -> bool:
    return bool(_datetime_validator().is_valid(value))
