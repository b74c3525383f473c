"""/api/v1/events and /api/v1/connectors: what events:admin sees, what only admin sees, replay."""

from __future__ import annotations

from hub.pipeline.inbox import receive
from hub.pipeline.worker import drain
from hub.sdk import RawEvent
from tests.hub.web.conftest import signed


def dead_letter(client, web_hub) -> int:
    body, headers = signed({"ref": "IVR-3", "summary": "no title"})
    response = client.post("/hooks/intake", data=body, headers=headers)
    drain(web_hub)
    return int(response.json["events"][0]["id"])


def test_events_list_and_show_without_raw_payload_for_events_admin(client, web_hub, make_token):
    event_id = dead_letter(client, web_hub)
    ops = make_token("events:admin")
    page = client.get("/api/v1/events", query_string={"state": "dead"}, headers=ops).json
    assert [e["id"] for e in page["items"]] == [event_id]
    assert "title: required value is missing" in page["items"][0]["last_error"]
    shown = client.get(f"/api/v1/events/{event_id}", headers=ops).json
    assert shown["state"] == "dead" and "body" not in shown and "headers" not in shown
    admin = client.get(f"/api/v1/events/{event_id}", headers=make_token("admin")).json
    assert '"no title"' in admin["body"] and admin["headers"]["Webhook-Id"]
    assert client.get("/api/v1/events/424242", headers=ops).status_code == 404
    assert client.get("/api/v1/events", headers=make_token("tickets:write")).status_code == 403


def test_replay_runs_a_dead_event_again(client, web_hub, make_token):
    event_id = dead_letter(client, web_hub)
    ops = make_token("events:admin")
    replayed = client.post(f"/api/v1/events/{event_id}/replay", headers=ops)
    assert replayed.status_code == 202 and replayed.json == {"replayed": 1}
    assert client.post(f"/api/v1/events/{event_id}/replay", headers=ops).status_code == 409  # still waiting
    drain(web_hub)
    all_dead = client.post("/api/v1/events/replay", json={"all_dead": True}, headers=ops)
    assert all_dead.status_code == 202 and all_dead.json == {"replayed": 1}
    assert client.post("/api/v1/events/replay", json={}, headers=ops).status_code == 422
    assert client.post("/api/v1/events/999/replay", headers=ops).status_code == 404


def test_event_pages(client, web_hub, make_token):
    receive(web_hub.engine, "src", [RawEvent(f"k{i}", b"{}") for i in range(3)])
    ops = make_token("events:admin")
    first = client.get("/api/v1/events", query_string={"limit": 2}, headers=ops).json
    rest = client.get("/api/v1/events", query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=ops).json
    assert [e["dedup_key"] for e in first["items"] + rest["items"]] == ["k2", "k1", "k0"]
    assert rest["next_cursor"] is None


def test_connectors_with_state_and_counts(client, web_hub, make_token):
    dead_letter(client, web_hub)
    ops = make_token("events:admin")
    items = {c["id"]: c for c in client.get("/api/v1/connectors", headers=ops).json["items"]}
    assert set(items) == {"intake", "github", "form", "unsigned", "src"}
    intake = items["intake"]
    assert (intake["kind"], intake["verify"], intake["webhook_path"]) == ("push", "standard_webhooks", "/hooks/intake")
    assert intake["events"]["dead"] == 1
    assert items["src"]["kind"] == "poll" and items["src"]["schedule"] == "1m"
    one = client.get("/api/v1/connectors/src", headers=ops)
    assert one.status_code == 200 and one.json["health"]["failures"] == 0
    assert one.json["health"]["circuit_in"] == "closed" and one.json["health"]["problems"] == {}
    assert client.get("/api/v1/connectors/nope", headers=ops).status_code == 404
