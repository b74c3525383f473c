"""Core support for answering on a ticket's own channel: Connector.follow_up (queued in the
change's transaction, thread refs recorded), IgnoreRecord, and the per-sender ticket limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hub import registry
from hub.pipeline import events as inbox_events
from hub.pipeline.inbox import receive
from hub.pipeline.worker import drain
from hub.sdk import IgnoreRecord, Outbound, RateLimit, RawEvent, TicketChange
from hub.store.db import read, write
from hub.store.tables import outbox, ticket_refs
from hub.tickets import service
from tests.reference_connector import MemoryConnector

CHANGES: list[TicketChange] = []


class AnsweringConnector(MemoryConnector):
    """The reference connector, answering every change and limiting senders to 2 tickets/hour."""

    name = "answering"

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        if json.loads(raw.body).get("spam"):
            raise IgnoreRecord("looks like spam")
        return super().normalize(raw)

    def follow_up(self, change: TicketChange) -> list[Outbound]:
        CHANGES.append(change)
        key = f"{change.action}:{change.ticket['id']}:{change.version}"
        return [Outbound("record", {"text": key}, key, thread_refs=(f"<{key}@hub>",))]

    def sender_limit(self) -> RateLimit | None:
        return RateLimit(2, 3600)


CONFIG = """
hub: {data_dir: {data_dir}}
instances:
  - id: src
    connector: answering
"""


@pytest.fixture
def hub(make_hub) -> Iterator[Any]:
    registry.register(AnsweringConnector)
    CHANGES.clear()
    yield make_hub(CONFIG)
    registry.unregister("answering")


def event(key: str, **item: Any) -> RawEvent:
    return RawEvent(key, json.dumps({"key": key, **item}).encode())


def test_answers_are_queued_with_the_change_and_their_ids_thread(hub):
    receive(hub.engine, "src", [event("a", data={"title": "Leak", "requester": {"email": "ann@example.org"}})])
    drain(hub)
    (created,) = CHANGES
    assert created.action == "created" and created.ticket["requester"]["email"] == "ann@example.org"
    ticket_id = created.ticket["id"]
    with write(hub.engine) as conn:  # an agent's comment through the API: only a connection at hand
        service.add_comment(
            conn, ticket_id, {"body": "on it"}, actor=service.Actor("agent"), now=created.at, from_requester=False
        )
    assert CHANGES[-1].comment and CHANGES[-1].comment["body"] == "on it"
    assert CHANGES[-1].comment["from_source"] is False
    with read(hub.engine) as conn:
        rows = conn.execute(select(outbox.c.idempotency_key, outbox.c.ticket_id).order_by(outbox.c.id)).all()
        refs = {r.key: r.ticket_id for r in conn.execute(select(ticket_refs).where(ticket_refs.c.kind == "thread"))}
    assert [r.idempotency_key for r in rows] == [f"src:created:{ticket_id}:1", f"src:commented:{ticket_id}:2"]
    assert refs == {f"<created:{ticket_id}:1@hub>": ticket_id, f"<commented:{ticket_id}:2@hub>": ticket_id}
    # a reply to what was sent threads into the ticket
    receive(hub.engine, "src", [event("b", in_reply_to=[f"<commented:{ticket_id}:2@hub>"], data={"title": "Re"})])
    drain(hub)
    assert CHANGES[-1].comment and CHANGES[-1].comment["from_source"] is True


def test_ignored_events_keep_the_connectors_reason(hub):
    receive(hub.engine, "src", [event("s", spam=True, data={"title": "Cheap pills"})])
    assert drain(hub).ignored == 1
    with read(hub.engine) as conn:
        (row,) = inbox_events.listing(conn, state="ignored")
    assert row["last_error"] == "looks like spam"
    assert CHANGES == []


def test_sender_limit_ignores_tickets_past_the_limit_but_not_replies(hub):
    sender = {"email": "storm@example.org"}
    receive(
        hub.engine,
        "src",
        [
            event(f"t{i}", actor=sender, thread_refs=[f"<t{i}@x>"], data={"title": f"T{i}", "requester": sender})
            for i in range(4)
        ],
    )
    receive(hub.engine, "src", [event("r", actor=sender, in_reply_to=["<t0@x>"], data={"title": "Re: T0"})])
    report = drain(hub)
    assert (report.done, report.ignored) == (3, 2)
    with read(hub.engine) as conn:
        reasons = [r["last_error"] for r in inbox_events.listing(conn, state="ignored")]
    assert all(r.startswith("rate limit: storm@example.org opened 2 tickets") for r in reasons)
