"""Generic webhook connector: any system that can POST JSON, mapped onto tickets in YAML.

Everything system-specific lives in the instance's `mapping` and `verify` sections; signature
checks, storage and retries are the core's.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, ClassVar

from hub.sdk import PushConnector, RawEvent


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
        },
    }

    @property
    def header(self) -> str:
        return str(self.settings.get("dedup_header", "webhook-id")).lower()

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        example = resources.files(__package__).joinpath("example.json").read_text("utf-8")
        spec = json.loads(example)
        body = json.dumps(spec["payload"]).encode()
        return [({"settings": {}, "mapping": spec["mapping"]}, [RawEvent("example-1", body)])]
