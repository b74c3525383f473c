"""The email connector's settings (JSON Schema, checked when the config is loaded)."""

from __future__ import annotations

from typing import Any

_FIELDS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Ticket fields for mail matching this rule.",
    "properties": {
        "queue": {"type": "string"},
        "category": {"type": "string"},
        "type": {"enum": ["incident", "service_request", "citizen_request", "question", "task"]},
        "priority": {"enum": ["low", "normal", "high", "urgent"]},
    },
}
_SECURITY = {"enum": ["tls", "starttls", "none"], "description": "tls: implicit TLS; none only on loopback."}
_OAUTH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tenant_id", "client_id", "client_secret"],
    "description": "Microsoft Entra app (client credentials) for XOAUTH2 and Graph.",
    "properties": {
        "tenant_id": {"type": "string", "minLength": 1},
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string", "minLength": 1},
        "authority_host": {"type": "string", "default": "https://login.microsoftonline.com"},
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["address"],
    "properties": {
        "address": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$", "description": "The mailbox's address."},
        "display_name": {"type": "string", "default": "Service Desk"},
        "aliases": {"type": "array", "items": {"type": "string"}, "description": "Other addresses of this mailbox."},
        "imap": {
            "type": "object",
            "additionalProperties": False,
            "required": ["host", "username"],
            "properties": {
                "host": {"type": "string", "minLength": 1},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "security": _SECURITY,
                "ca_file": {"type": "string", "description": "PEM file of a private CA to trust."},
                "username": {"type": "string", "minLength": 1},
                "password": {"type": "string"},
                "auth": {"enum": ["password", "xoauth2"], "default": "password"},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60},
                "batch_size": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 100},
                "folders": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {"name": {"type": "string", "minLength": 1}, "fields": _FIELDS},
                    },
                },
                "processed": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "What to do with a message once it is safely in the inbox.",
                    "properties": {
                        "action": {"enum": ["keep", "flag", "move"], "default": "keep"},
                        "flag": {"type": "string", "default": "\\Seen"},
                        "folder": {"type": "string"},
                    },
                },
            },
        },
        "oauth": _OAUTH,
        "routes": {
            "type": "array",
            "description": "Recipient address -> ticket fields (first match wins; folder fields apply otherwise).",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["to", "fields"],
                "properties": {"to": {"type": "string"}, "fields": _FIELDS},
            },
        },
        "employee_domains": {"type": "array", "items": {"type": "string"}},
        "employee_fields": _FIELDS,
        "citizen_fields": _FIELDS,
        "accept_citizens": {"type": "boolean", "default": True, "description": "false: only employee domains."},
        "subscribe_cc": {"type": "boolean", "default": True},
        "attachments": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_bytes": {"type": "integer", "minimum": 0, "default": 26214400},
                "directory": {"type": "string", "description": "Default: <data_dir>/instances/<id>/attachments."},
            },
        },
        "rate_limit": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "tickets": {"type": "integer", "minimum": 1, "default": 20},
                "per": {"type": "string", "pattern": "^[0-9]+(s|m|h|d)$", "default": "1h"},
            },
        },
        "replies": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "transport": {"enum": ["smtp", "graph", "none"], "default": "none"},
                "acknowledge": {"type": "boolean", "default": True},
                "comments": {"type": "boolean", "default": True},
                "statuses": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": ["waiting_on_requester", "resolved", "closed", "cancelled"],
                },
                "templates": {"type": "string", "description": "Directory overriding the built-in templates."},
                "bounce_address": {"type": "string", "description": "Envelope sender (default: address)."},
                "smtp": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["host"],
                    "properties": {
                        "host": {"type": "string", "minLength": 1},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "security": _SECURITY,
                        "ca_file": {"type": "string"},
                        "username": {"type": "string"},
                        "password": {"type": "string"},
                        "auth": {"enum": ["password", "xoauth2", "none"]},
                        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60},
                    },
                },
                "graph": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "mailbox": {"type": "string", "description": "User to send as (default: address)."},
                        "base_url": {"type": "string", "default": "https://graph.microsoft.com/v1.0"},
                    },
                },
            },
        },
    },
}
