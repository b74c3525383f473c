"""The example config's `intake` webhook instance maps the sample IVR payload onto a ticket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.config import ConfigError, load_config
from hub.pipeline.normalize import normalize
from hub.runtime import Hub
from hub.sdk import InboundRequest, RawEvent
from hub.store.db import make_engine

REPO = Path(__file__).resolve().parents[3]


def example_hub(monkeypatch, tmp_path) -> Hub:
    monkeypatch.setenv("HUB_INTAKE_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    config = load_config(REPO / "config" / "example.yaml")
    return Hub(config, engine=make_engine(f"sqlite:///{tmp_path / 'hub.db'}"))


def test_example_intake_verifies_standard_webhooks_and_maps_the_sample(monkeypatch, tmp_path):
    hub = example_hub(monkeypatch, tmp_path)
    assert hub.instance("intake").verify["scheme"] == "standard_webhooks"
    body = (REPO / "config" / "examples" / "intake-event.json").read_bytes()
    raws = hub.connector("intake").receive(InboundRequest(body, {"webhook-id": "msg_1"}, "application/json"))
    assert [r.dedup_key for r in raws] == ["msg_1"]
    (event,) = normalize(hub, "intake", raws[0])
    assert event["type"] == "ticket.create" and event["external_id"] == "IVR-2026-11-29-0042"
    data = event["data"]
    assert data["title"] == "Pothole: Large pothole in the eastbound lane"
    assert (data["queue"], data["priority"], data["category"]) == ("public-works", "high", "pothole")
    assert data["requester"] == {
        "name": "Maria Alvarez",
        "phone": "+1-555-0147",
        "email": "maria.alvarez@example.org",
        "kind": "citizen",
    }
    assert data["attributes"] == {"ivr_call_id": "CA9f3e2d1c", "language": "es"}


def test_example_status_and_note_events_map_to_existing_ticket_events(monkeypatch, tmp_path):
    hub = example_hub(monkeypatch, tmp_path)
    status = {"event": "request.status", "request": {"reference": "IVR-1"}, "status": "done", "note": {"text": "Fixed"}}
    (event,) = normalize(hub, "intake", RawEvent("k", json.dumps(status).encode()))
    assert event["type"] == "ticket.status" and event["external_id"] == "IVR-1"
    assert event["data"] == {"status": "resolved", "note": "Fixed"}


def test_example_secret_is_required(monkeypatch):
    monkeypatch.delenv("HUB_INTAKE_SECRET", raising=False)
    with pytest.raises(ConfigError, match="HUB_INTAKE_SECRET is not set"):
        load_config(REPO / "config" / "example.yaml")
