"""The new schemas are valid 2020-12 documents, and the fast and reference validators agree on
the SLA state and the notification payload."""

from __future__ import annotations

import copy

import pytest

from hub import schemas
from tests.hub.test_schemas import VALID_TICKET

SLA = {
    "policy": "standard",
    "pinned": False,
    "calendar": "city",
    "state": "paused",
    "running_since": None,
    "paused_since": "2026-11-27T17:00:00Z",
    "targets": {"first_response": 14400.0, "resolution": 57600.0},
    "first_response_elapsed": 7200.0,
    "resolution_elapsed": 7200.0,
    "first_response_due_at": "2026-11-27T20:00:00Z",
    "resolution_due_at": None,
    "first_response_warn_at": None,
    "resolution_warn_at": None,
    "warned": ["first_response"],
    "breached": [],
    "breached_at": {},
    "reopened": 0,
}
NOTIFICATION = {
    "id": "notify:1:ack",
    "kind": "acknowledgement",
    "audience": "requester",
    "occurred_at": "2026-11-27T15:00:00Z",
    "ticket": {"id": 1, "number": "REQ-2026-000001", "title": "t", "status": "new", "channel": "email"},
    "message": "We received your request REQ-2026-000001.",
    "status_url": "https://desk.city.gov/status/abc",
    "survey_url": None,
    "comment": None,
    "recipients": [{"address": "ann@example.org", "role": "requester"}],
    "source": {"instance": "mail", "external_id": None, "external_url": None},
    "thread_refs": ["<a@b>"],
    "in_reply_to": "<a@b>",
}


@pytest.mark.parametrize("name", ["desk", "routing", "notification"])
def test_schemas_are_valid_2020_12_with_id_and_version(name):
    schema = schemas.load(name)
    schemas.check_schema(schema)
    assert schema["$id"].endswith(f"/{name}.schema.json") and schema["x-version"]


def _both(name: str, doc: dict) -> tuple[bool, bool]:
    return schemas.fast_validator(name).is_valid(doc), schemas.reference_validator(name).is_valid(doc)


def test_sla_state_on_a_ticket():
    assert _both("ticket", {**VALID_TICKET, "sla": SLA}) == (True, True)
    for key, value in [("state", "frozen"), ("warned", ["lunch"]), ("resolution_elapsed", -1),
                       ("targets", {"first_response": "4h"}), ("breached_at", {"resolution": "soon"})]:  # fmt: skip
        doc = {**VALID_TICKET, "sla": {**SLA, key: value}}
        assert _both("ticket", doc) == (False, False), key


def test_notification_payload():
    assert _both("notification", NOTIFICATION) == (True, True)
    for path, value in [(["kind"], "postcard"), (["ticket", "status"], "done"), (["status_url"], "not a url"),
                        (["recipients", 0, "role"], "boss"), (["message"], ""), (["extra"], 1)]:  # fmt: skip
        doc = copy.deepcopy(NOTIFICATION)
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert _both("notification", doc) == (False, False), path
