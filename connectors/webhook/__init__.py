"""Generic webhook connector: any system that can POST JSON, mapped onto tickets in YAML.

Everything system-specific lives in the instance's `mapping` and `verify` sections; signature
checks, storage and retries are the core's.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, ClassVar

from hub import jsonutil
from hub.outbox import webhook
from hub.sdk import ActionResult, FatalError, PushConnector, RawEvent, action


class WebhookConnector(PushConnector):
    name = "webhook"
    channel = "webhook"
    uses_mapping = True
    config_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "dedup_header": {
                "type": "string",
                "description": "Request header carrying the sender's delivery id (default: webhook-id).",
            },
            "callback": {
                "type": "object",
                "additionalProperties": False,
                "description": "Signed updates POSTed to callback URLs given on tickets (the `callback` action).",
                "properties": {
                    "secret": {"type": "string", "description": "Standard Webhooks whsec_...; empty: callbacks fail."},
                    "allow_networks": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "description": "Private or loopback networks callbacks may reach (default: public only).",
                    },
                    "timeout": {"type": "number", "exclusiveMinimum": 0},
                },
            },
        },
    }

    @property
    def header(self) -> str:
        return str(self.settings.get("dedup_header", "webhook-id")).lower()

    @action("callback")
    def callback(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        """POST a notification (schemas/notification.schema.json) to the ticket's callback URL."""
        settings = self.settings.get("callback") or {}
        if not settings.get("secret"):
            raise FatalError("settings.callback.secret is not set: callbacks are always signed")
        doc = {k: v for k, v in payload.items() if k != "callback_url"}
        url = str(payload["callback_url"])
        status = webhook.post(
            url,
            jsonutil.dumpb(doc),
            msg_id=idempotency_key,
            secret=str(settings["secret"]),
            allowed=webhook.networks(settings.get("allow_networks") or []),
            timeout=float(settings.get("timeout", 10)),
        )
        return ActionResult(f"callback {doc.get('kind')} delivered ({status})", {"status": status})

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        example = resources.files(__package__).joinpath("example.json").read_text("utf-8")
        spec = json.loads(example)
        body = json.dumps(spec["payload"]).encode()
        return [({"settings": {}, "mapping": spec["mapping"]}, [RawEvent("example-1", body)])]
