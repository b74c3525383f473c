"""Settings of an m365 instance (checked at start-up like every connector's)."""

from __future__ import annotations

from typing import Any

_ISO = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(T.*)?$"}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["tenant_id", "client_id"],
    "properties": {
        "tenant_id": {"type": "string", "minLength": 1},
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string", "minLength": 1, "description": "Write ${ENV_VAR}."},
        "certificate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["private_key_path", "thumbprint"],
            "properties": {
                "private_key_path": {"type": "string"},
                "public_certificate_path": {"type": "string", "description": "PEM; its expiry is reported."},
                "thumbprint": {"type": "string", "minLength": 1},
            },
        },
        "notifications": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "client_state"],
            "description": "Change notifications; without them the instance only polls.",
            "properties": {
                "url": {"type": "string", "pattern": "^https://", "description": "Public URL of /hooks/<instance>."},
                "client_state": {"type": "string", "minLength": 16, "maxLength": 128, "description": "${ENV_VAR}"},
                "mail_minutes": {"type": "integer", "minimum": 45, "maximum": 10080, "default": 4230},
                "teams_minutes": {"type": "integer", "minimum": 45, "maximum": 4320, "default": 60},
            },
        },
        "mail": {
            "type": "object",
            "additionalProperties": False,
            "required": ["mailbox"],
            "properties": {
                "mailbox": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
                "folder": {"type": "string", "default": "inbox", "description": "Well-known name or folder id."},
                "since": {**_ISO, "description": "First sync reads only mail received since then."},
            },
        },
        "teams": {
            "type": "object",
            "additionalProperties": False,
            "required": ["channels"],
            "properties": {
                "channels": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["team_id", "channel_id"],
                        "properties": {
                            "team_id": {"type": "string"},
                            "channel_id": {"type": "string"},
                            "since": _ISO,
                        },
                    },
                }
            },
        },
        "users": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "password_delivery": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "to_manager": {"type": "boolean", "description": "Send to the new user's manager."},
                        "address": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$", "description": "IT desk."},
                    },
                },
                "password_sender": {
                    "type": "string",
                    "description": "Mailbox sending passwords (default: mail.mailbox).",
                },
                "usage_location": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "For licenses."},
            },
        },
        "graph_url": {"type": "string", "pattern": "^https://", "default": "https://graph.microsoft.com/v1.0"},
        "authority_host": {"type": "string", "pattern": "^https://", "default": "https://login.microsoftonline.com"},
    },
    "anyOf": [{"required": ["client_secret"]}, {"required": ["certificate"]}],
}
