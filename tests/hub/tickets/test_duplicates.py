"""Many reports of one pothole: linked to the first, and every reporter told when it is fixed."""

from __future__ import annotations

from hub.outbox.dispatcher import dispatch_due
from hub.store.db import read
from hub.tickets import queries
from hub.tickets.duplicates import address_key, distance_m
from tests import reference_connector as ref
from tests.hub.tickets.conftest import Feed

DUPLICATES = "duplicates: {enabled: true, window: 30d, distance_m: 50}"
MAIN_ST = {"address": "401 Main Street", "lat": 41.87810, "long": -87.62980}


def report(feed, who, location, *, instance="src", category="pothole", **extra):
    data = {
        "title": f"Pothole reported by {who}",
        "type": "citizen_request",
        "category": category,
        "location": location,
        "requester": {"name": who, "email": f"{who}@example.org", "kind": "citizen"},
        **extra,
    }
    return feed(data, instance=instance, external_id=f"{instance}-{who}")


def test_distance_and_address_matching():
    assert round(distance_m({"lat": 41.8781, "long": -87.6298}, {"lat": 41.8783, "long": -87.6298})) == 22
    assert distance_m({"lat": 1, "long": 1}, {"address": "x"}) is None
    assert address_key("401 Main Street, ") == address_key("401  main st") == "401 main st"


def test_a_nearby_report_of_the_same_category_is_linked_and_its_reporter_subscribed(desk_hub):
    hub = desk_hub(extra=DUPLICATES)
    feed = Feed(hub)
    original = report(feed, "ann", MAIN_ST)
    near = report(feed, "bob", {"lat": 41.87825, "long": -87.62985}, instance="other")  # ~17 m away
    by_text = report(feed, "cy", {"address": "401 main st."})
    far = report(feed, "dee", {"lat": 41.8830, "long": -87.6298})  # ~540 m away
    other_kind = report(feed, "eve", MAIN_ST, category="streetlight")
    assert near["duplicate_of_id"] == original["id"] and by_text["duplicate_of_id"] == original["id"]
    assert far["duplicate_of_id"] is None and other_kind["duplicate_of_id"] is None
    subs = {s["address"] for s in feed.ticket(original["id"])["subscribers"]}
    assert subs == {"ann@example.org", "bob@example.org", "cy@example.org"}
    assert near["sla"]["policy"] is None  # the original carries the SLA
    with read(hub.engine) as conn:
        assert any(h["action"] == "duplicate_linked" and h["new"] == near["number"]
                   for h in queries.history(conn, original["id"]))  # fmt: skip
    dispatch_due(hub)
    ack = next(p for i, p, _k in ref.NOTIFIED if i == "other")
    assert ack["ticket"]["duplicate_of"] == original["number"] and original["number"] in ack["message"]


def test_resolving_the_original_tells_every_reporter_on_their_own_channel(desk_hub):
    hub = desk_hub(extra=DUPLICATES)
    feed = Feed(hub)
    original = report(feed, "ann", MAIN_ST)
    near = report(feed, "bob", {"lat": 41.87825, "long": -87.62985}, instance="other")
    feed({"status": "resolved", "note": "Patched"}, type="ticket.status", external_id="src-ann")
    assert feed.ticket(near["id"])["status"] == "resolved"
    dispatch_due(hub)
    resolved = [(i, p) for i, p, _k in ref.NOTIFIED if p["kind"] == "resolved"]
    assert sorted(i for i, _p in resolved) == ["other", "src"]
    to_bob = next(p for i, p in resolved if i == "other")
    assert to_bob["ticket"]["number"] == near["number"] and original["number"] in to_bob["message"]
    assert [r["address"] for r in to_bob["recipients"]] == ["bob@example.org"]
    to_ann = next(p for i, p in resolved if i == "src")
    assert [r["address"] for r in to_ann["recipients"]] == ["ann@example.org"]  # bob hears it once


def test_duplicates_are_off_unless_configured(desk_hub):
    feed = Feed(desk_hub())
    report(feed, "ann", MAIN_ST)
    assert report(feed, "bob", MAIN_ST)["duplicate_of_id"] is None
