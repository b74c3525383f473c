"""Whatever path a ticket took, reading it back gives a document valid against ticket.schema.json."""

from __future__ import annotations

import json

from hub import schemas
from hub.pipeline.inbox import receive
from hub.pipeline.worker import drain
from hub.sdk import RawEvent
from hub.store.db import read
from hub.tickets import queries


def test_every_stored_ticket_validates(make_hub):
    hub = make_hub()
    items = [
        {"key": "1", "external_id": "A", "data": {"title": "Minimal"}},
        {
            "key": "2",
            "data": {
                "title": "Full",
                "description": "d",
                "priority": "urgent",
                "queue": "it",
                "requester": {"name": "Ann", "email": "Ann@City.gov", "kind": "employee"},
                "location": {"address": "1 Main", "lat": 1.5, "long": 2.5},
                "attachments": [{"name": "a.png", "size": 3, "sha256": "0" * 64}],
                "subscribers": [{"address": "boss@city.gov", "role": "watcher"}],
                "tags": ["b", "a", "b"],
                "attributes": {"x": 1},
            },
        },
        {"key": "3", "type": "ticket.status", "external_id": "A", "data": {"status": "closed", "note": "done"}},
        {
            "key": "4",
            "type": "person.joiner",
            "external_id": "E7",
            "data": {
                "person": {"employee_id": "E7", "given_name": "Kim", "family_name": "Ng"},
                "effective_at": "2026-12-01T14:00:00Z",
            },
        },
    ]
    receive(hub.engine, "src", [RawEvent(i["key"], json.dumps(i).encode()) for i in items])
    assert drain(hub).done == 4
    with read(hub.engine) as conn:
        docs = [queries.get(conn, t["id"]) for t in queries.search(conn)]
    assert len(docs) == 3
    for doc in docs:
        schemas.validate("ticket", doc)
    by_title = {d["title"]: d for d in docs}
    full = by_title["Full"]
    assert full["tags"] == ["a", "b"]
    assert {s["address"] for s in full["subscribers"]} == {"ann@city.gov", "boss@city.gov"}
    assert by_title["Minimal"]["status"] == "closed" and by_title["Minimal"]["closed_at"]
    onboarding = by_title["Onboarding: Kim Ng (2026-12-01)"]
    assert onboarding["type"] == "onboarding" and onboarding["requester"]["employee_id"] == "E7"
