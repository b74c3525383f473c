"""In-memory reference connector: the smallest complete connector, used by the test suite.

It polls pages out of a process-local list (so tests control exactly what the source holds),
normalizes a simple JSON shape or uses the instance's mapping, and has two outbound actions
(`record`, and `notify` for requester updates) whose failures tests can script.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, ClassVar

from hub.sdk import ActionResult, PolledConnector, PollResult, RawEvent, RetriableError, action

SOURCES: dict[str, list[dict[str, Any]]] = defaultdict(list)
SENT: list[tuple[str, dict[str, Any], str]] = []
NOTIFIED: list[tuple[str, dict[str, Any], str]] = []  # what the `notify` action delivered
FAILURES: list[Exception] = []  # raised, in order, by the next calls of the `record` action


def reset() -> None:
    SOURCES.clear()
    SENT.clear()
    NOTIFIED.clear()
    FAILURES.clear()


class MemoryConnector(PolledConnector):
    name = "memory"
    channel = "api"
    uses_mapping = False
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"page_size": {"type": "integer", "minimum": 1}},
    }

    def poll(self, cursor: Any) -> PollResult:
        offset = int(cursor or 0)
        items = SOURCES[self.context.instance_id]
        size = int(self.settings.get("page_size", 10))
        page = items[offset : offset + size]
        events = [RawEvent(str(item["key"]), json.dumps(item).encode()) for item in page]
        return PollResult(events, offset + len(page), more=offset + len(page) < len(items))

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        item = json.loads(raw.body)
        if item.get("ignore"):
            return []
        if self.context.mapping is not None:
            return super().normalize(raw)
        event: dict[str, Any] = {"type": item.get("type", "ticket.create"), "data": item["data"]}
        for key in ("external_id", "in_reply_to", "thread_refs", "ticket_number", "actor"):
            if key in item:
                event[key] = item[key]
        return [event]

    @action("record")
    def record(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        if FAILURES:
            raise FAILURES.pop(0)
        SENT.append((self.context.instance_id, payload, idempotency_key))
        return ActionResult(f"recorded {payload.get('text', '')}".strip())

    @action("notify")
    def notify(self, payload: dict[str, Any], *, idempotency_key: str) -> ActionResult:
        """Requester updates (schemas/notification.schema.json), recorded like `record`."""
        if FAILURES:
            raise FAILURES.pop(0)
        NOTIFIED.append((self.context.instance_id, payload, idempotency_key))
        return ActionResult(f"notified {payload['kind']}")

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        item = {"key": "k1", "external_id": "M-1", "data": {"title": "Printer on fire", "priority": "urgent"}}
        return [({"settings": {}}, [RawEvent("k1", json.dumps(item).encode())])]


__all__ = ["FAILURES", "NOTIFIED", "SENT", "SOURCES", "MemoryConnector", "RetriableError", "reset"]
