"""The compiled validator used on the hot path must accept and reject exactly what the reference
(pure-Python jsonschema) validator does."""

from __future__ import annotations

import copy

import pytest

from hub import schemas

VALID_TICKET = {
    "id": 123,
    "number": "REQ-2026-000123",
    "type": "citizen_request",
    "title": "Pothole on Main St",
    "description": "Two feet wide",
    "description_html": None,
    "status": "in_progress",
    "priority": "high",
    "category": "roads",
    "queue": "public-works",
    "assignee": "crew7@city.gov",
    "requester": {"name": "Ann", "email": "ann@example.org", "phone": "+1-555-0100", "kind": "citizen"},
    "channel": "phone",
    "source": {"instance": "intake", "connector": "webhook", "external_id": "IVR-1", "thread_refs": []},
    "location": {"address": "401 Main St", "lat": 41.5, "long": -87.6},
    "attachments": [{"name": "photo.jpg", "content_type": "image/jpeg", "size": 1024, "sha256": "a" * 64}],
    "parent_id": None,
    "duplicate_of_id": None,
    "subscribers": [{"address": "ann@example.org", "role": "requester"}],
    "sla": {"policy": "p2", "first_response_due_at": "2026-11-30T15:00:00Z", "breached": []},
    "created_at": "2026-11-29T08:14:05Z",
    "updated_at": "2026-11-29T09:00:00Z",
    "first_response_at": None,
    "resolved_at": None,
    "closed_at": None,
    "tags": ["storm"],
    "attributes": {"ivr_call_id": "CA1"},
}
VALID_EVENTS = [
    {"type": "ticket.create", "instance": "a", "occurred_at": "2026-11-29T08:00:00Z", "data": {"title": "t"}},
    {
        "type": "ticket.comment",
        "instance": "a",
        "external_id": "X",
        "occurred_at": "2026-11-29T08:00:00+01:00",
        "in_reply_to": ["<m@x>"],
        "data": {"body": "hello", "public": False},
    },
    {"type": "ticket.status", "instance": "a", "occurred_at": "2026-11-29T08:00:00Z", "data": {"status": "resolved"}},
    {
        "type": "person.leaver",
        "instance": "hr",
        "occurred_at": "2026-11-29T08:00:00Z",
        "data": {"person": {"employee_id": "E1"}, "effective_at": "2026-12-04T23:00:00Z"},
    },
]


def _mutate(doc: dict, path: list, value: object) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


INVALID_TICKETS = [
    (["status"], "reopened"),
    (["number"], "123"),
    (["title"], ""),
    (["requester", "email"], "not-an-address"),
    (["requester", "kind"], "alien"),
    (["created_at"], "yesterday"),
    (["location", "lat"], 91),
    (["attachments", 0, "sha256"], "xyz"),
    (["title"], KeyError),
    (["unknown_field"], 1),
    (["tags"], ["a", "a"]),
]
INVALID_EVENTS = [
    (0, ["type"], "ticket.explode"),
    (0, ["data", "title"], KeyError),
    (1, ["data", "body"], ""),
    (2, ["data", "status"], "done"),
    (3, ["data", "effective_at"], "next friday"),
    (3, ["data", "person", "employee_id"], KeyError),
    (0, ["occurred_at"], "2026-13-45T00:00:00Z"),
]


@pytest.mark.parametrize("name", ["ticket", "event", "config"])
def test_schemas_are_valid_2020_12_with_id_and_version(name):
    schema = schemas.load(name)
    schemas.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["$id"].endswith(f"/{name}.schema.json") and schema["x-version"]


def test_both_validators_accept_the_valid_documents():
    assert schemas.reference_validator("ticket").is_valid(VALID_TICKET)
    schemas.validate("ticket", VALID_TICKET)
    for event in VALID_EVENTS:
        assert schemas.reference_validator("event").is_valid(event), event
        schemas.validate("event", event)


@pytest.mark.parametrize(("path", "value"), INVALID_TICKETS)
def test_both_validators_reject_invalid_tickets(path, value):
    doc = _mutate(VALID_TICKET, path, value)
    assert not schemas.reference_validator("ticket").is_valid(doc)
    with pytest.raises(schemas.SchemaError):
        schemas.validate("ticket", doc)


@pytest.mark.parametrize(("index", "path", "value"), INVALID_EVENTS)
def test_both_validators_reject_invalid_events(index, path, value):
    doc = _mutate(VALID_EVENTS[index], path, value)
    assert not schemas.reference_validator("event").is_valid(doc)
    with pytest.raises(schemas.SchemaError):
        schemas.validate("event", doc)


def test_error_names_the_failing_field():
    doc = _mutate(VALID_EVENTS[0], ["data", "requester"], {"email": "nope"})
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate("event", doc)
    assert info.value.path == "data.requester.email"
    doc = _mutate(VALID_TICKET, ["attachments", 0, "size"], -1)
    with pytest.raises(schemas.SchemaError) as info:
        schemas.validate("ticket", doc)
    assert info.value.path == "attachments[0].size"


def test_validators_are_compiled_once():
    assert schemas.fast_validator("event") is schemas.fast_validator("event")
    assert schemas.reference_validator("ticket") is schemas.reference_validator("ticket")
