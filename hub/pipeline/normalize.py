"""Raw event -> validated canonical events, through the instance's connector (pure, no writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub import clock, jsonutil, schemas
from hub.runtime import Hub
from hub.sdk.connector import RawEvent
from hub.sdk.errors import SkipRecord


def normalize(hub: Hub, instance: str, raw: RawEvent) -> list[dict[str, Any]]:
    """Raises SkipRecord (incl. MappingError) or schemas.SchemaError with a readable reason."""
    try:
        connector = hub.connector(instance)
    except LookupError as exc:
        raise SkipRecord(str(exc)) from None
    events = connector.normalize(raw)
    received = clock.isoformat(raw.received_at or clock.now())
    out = []
    for index, event in enumerate(events):
        event = {**event, "instance": instance}
        event.setdefault("received_at", received)
        event.setdefault("occurred_at", received)
        try:
            jsonutil.dumpb(event)  # ~1 us; fails on lone surrogates that no database can store
        except TypeError:
            event = _clean_text(event)
        try:
            schemas.validate("event", event)
        except schemas.SchemaError as exc:
            where = f"event[{index}] " if len(events) > 1 else ""
            raise SkipRecord(f"{where}{exc.path or 'event'}: {exc.detail}") from None
        out.append(event)
    return out


def _clean_text(value: Any) -> Any:
    """Replace what UTF-8 cannot carry (lone surrogates) so the text can be stored and shown."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_clean_text(k): _clean_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_text(v) for v in value]
    return value


def raw_from_row(row: Any) -> RawEvent:
    received: datetime = row.received_at
    return RawEvent(row.dedup_key, bytes(row.body), row.headers or {}, row.content_type, received)
