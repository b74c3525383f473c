"""SLA clocks through the real pipeline with a controlled clock: business hours, holidays, DST,
pauses while waiting on the requester, stop on resolve, resume on reopen, warnings and breaches."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from hub import schemas
from hub.outbox.dispatcher import dispatch_due
from hub.store.db import read
from hub.store.tables import sla_timers, ticket_metrics
from hub.tickets import queries
from hub.tickets.sla import check_due
from tests import reference_connector as ref
from tests.hub.tickets.conftest import Feed
from tests.support.statements import recorded

CITIZEN = {"name": "Ann", "email": "ann@example.org", "kind": "citizen"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def metrics(hub, ticket_id):
    with read(hub.engine) as conn:
        return conn.execute(select(ticket_metrics).where(ticket_metrics.c.ticket_id == ticket_id)).first()


def history(hub, ticket_id, action):
    with read(hub.engine) as conn:
        return [h for h in queries.history(conn, ticket_id) if h["action"] == action]


def test_due_times_count_business_hours_from_creation(desk_hub, fake_clock):
    feed = Feed(desk_hub())  # Friday 27 Nov 2026, 09:00 in Chicago (15:00 UTC)
    ticket = feed({"title": "Broken bench", "requester": CITIZEN}, external_id="T1")
    sla = ticket["sla"]
    assert ticket["queue"] == "triage" and sla["policy"] == "standard" and sla["state"] == "running"
    assert sla["first_response_due_at"] == "2026-11-27T20:00:00Z"  # 4h: 09-12, 13-14
    assert sla["resolution_due_at"] == "2026-12-01T15:00:00Z"  # 16h: Fri 7h, Mon 8h, Tue 08-09 (CST)
    schemas.validate("ticket", ticket)
    assert schemas.reference_validator("ticket").is_valid(ticket)


def test_the_clock_pauses_while_waiting_on_the_requester(desk_hub, fake_clock):
    hub = desk_hub()
    feed = Feed(hub)
    ticket = feed({"title": "Broken bench", "requester": CITIZEN}, external_id="T1")
    fake_clock.current = utc(2026, 11, 27, 17, 0)  # Friday 11:00: 2h used
    feed({"status": "waiting_on_requester"}, type="ticket.status", external_id="T1")
    paused = feed.ticket(ticket["id"])["sla"]
    assert paused["state"] == "paused" and paused["paused_since"] == "2026-11-27T17:00:00Z"
    assert paused["resolution_due_at"] is None and paused["resolution_elapsed"] == 2 * 3600
    assert paused["first_response_elapsed"] == 2 * 3600  # asking the requester is a response
    fake_clock.current = utc(2026, 11, 30, 16, 0)  # Monday 10:00: the requester answers
    feed({"body": "It is the one by the library", "author": {"email": "ann@example.org"}}, type="ticket.comment",
         external_id="T1")  # fmt: skip
    resumed = feed.ticket(ticket["id"])
    assert resumed["status"] == "new" and resumed["sla"]["state"] == "running"
    # 14h left from Monday 10:00: Mon 6h, Tue 8h (until 17:00 CST)
    assert resumed["sla"]["resolution_due_at"] == "2026-12-01T23:00:00Z"
    assert metrics(hub, ticket["id"]).first_response_met is True


def test_resolve_stops_the_clock_and_a_reopen_resumes_it_until_the_breach(desk_hub, fake_clock):
    hub = desk_hub()
    feed = Feed(hub)
    ticket = feed({"title": "Tree down", "priority": "high", "requester": CITIZEN}, external_id="T1")
    fake_clock.current = utc(2026, 11, 27, 21, 0)  # Friday 15:00: 5h of the 8h used
    feed({"status": "resolved", "note": "Cleared"}, type="ticket.status", external_id="T1")
    done = feed.ticket(ticket["id"])["sla"]
    assert done["state"] == "stopped" and done["resolution_elapsed"] == 5 * 3600
    first = metrics(hub, ticket["id"])
    assert first.resolution_met is True and first.resolution_seconds == 5 * 3600 and first.reopens == 0
    assert first.first_response_met is False  # 1h target, first answered after 5h
    with read(hub.engine) as conn:  # nothing left to watch while it is resolved
        assert conn.execute(select(sla_timers).where(sla_timers.c.ticket_id == ticket["id"])).first() is None

    fake_clock.current = utc(2026, 11, 30, 15, 0)  # Monday 09:00: "it is still there"
    feed({"body": "Still blocking the road", "author": {"email": "ann@example.org"}}, type="ticket.comment",
         external_id="T1")  # fmt: skip
    reopened = feed.ticket(ticket["id"])["sla"]
    assert reopened["state"] == "running" and reopened["reopened"] == 1
    assert reopened["resolution_due_at"] == "2026-11-30T18:00:00Z"  # 3h left: Monday 09-12
    assert metrics(hub, ticket["id"]).resolution_seconds is None  # open again

    fake_clock.current = utc(2026, 11, 30, 17, 59)
    assert check_due(hub).breaches == 0
    fake_clock.current = utc(2026, 11, 30, 18, 30)
    assert check_due(hub).breaches == 1
    assert check_due(hub).checked == 0  # recorded once, nothing pending any more
    after = feed.ticket(ticket["id"])["sla"]
    assert "resolution" in after["breached"] and after["breached_at"]["resolution"] == "2026-11-30T18:00:00Z"
    assert [h["field"] for h in history(hub, ticket["id"], "sla_breached")] == ["first_response", "resolution"]
    assert metrics(hub, ticket["id"]).resolution_met is False and metrics(hub, ticket["id"]).reopens == 1


def test_warning_at_80_percent_and_breach_notify_the_queue(desk_hub, fake_clock):
    hub = desk_hub()
    feed = Feed(hub)
    ticket = feed({"title": "Pothole on Elm", "category": "pothole", "requester": CITIZEN})
    assert ticket["queue"] == "public-works"
    assert ticket["sla"]["first_response_warn_at"] == "2026-11-27T19:12:00Z"  # 3.2h: 09-12, 13:00-13:12
    fake_clock.current = utc(2026, 11, 27, 19, 11)
    assert check_due(hub).warnings == 0
    fake_clock.current = utc(2026, 11, 27, 19, 12)
    assert check_due(hub).warnings == 1
    fake_clock.current = utc(2026, 11, 27, 20, 0)
    assert check_due(hub).breaches == 1
    dispatch_due(hub)
    alerts = [p for _i, p, _k in ref.NOTIFIED if p["audience"] == "queue"]
    assert [a["kind"] for a in alerts] == ["sla_warning", "sla_breach"]
    assert alerts[0]["recipients"] == [{"address": "pw-lead@city.gov", "role": "queue"}]
    assert alerts[0]["sla"]["metric"] == "first_response" and alerts[0]["sla"]["used"] >= 0.8
    assert "Pothole on Elm" in alerts[1]["message"] and "missed" in alerts[1]["message"]
    for _instance, payload, _key in ref.NOTIFIED:
        schemas.validate("notification", payload)
        assert schemas.reference_validator("notification").is_valid(payload)


def test_tickets_created_outside_hours_and_across_dst(desk_hub, fake_clock):
    hub = desk_hub()
    feed = Feed(hub)
    fake_clock.current = utc(2026, 11, 28, 16, 0)  # Saturday
    saturday = feed({"title": "Graffiti"})
    assert saturday["sla"]["first_response_due_at"] == "2026-11-30T18:00:00Z"  # Monday 08:00-12:00 CST
    fake_clock.current = utc(2026, 10, 30, 21, 0)  # Friday 16:00 CDT, before the fall-back weekend
    friday = feed({"title": "Streetlight out"})
    assert friday["sla"]["first_response_due_at"] == "2026-11-02T17:00:00Z"  # Monday 11:00 CST


def test_a_rule_pins_a_24x7_policy_that_a_queue_change_keeps(desk_hub, fake_clock):
    hub = desk_hub()
    feed = Feed(hub)
    fake_clock.current = utc(2026, 11, 28, 16, 0)  # Saturday 10:00
    ticket = feed({"title": "Flooding on 5th Street"}, external_id="W1")
    assert (ticket["queue"], ticket["priority"], ticket["sla"]["policy"]) == ("water", "urgent", "emergency")
    assert ticket["sla"]["first_response_due_at"] == "2026-11-28T16:30:00Z"  # around the clock
    feed({"queue": "public-works"}, type="ticket.update", external_id="W1")
    assert feed.ticket(ticket["id"])["sla"]["policy"] == "emergency"
    routed = history(hub, ticket["id"], "routed")
    assert {h["field"]: h["new"] for h in routed}["rule"] == "water-emergency"
    assert routed[0]["actor"] == "routing:water-emergency"


def test_a_new_ticket_starts_its_clock_in_its_insert_and_gets_its_timer(desk_hub, fake_clock):
    """The clock is computed before the INSERT, so no UPDATE of tickets.sla follows it, and the
    first check (the first-response warning) is scheduled all the same."""
    hub = desk_hub()
    with recorded(hub.engine, "UPDATE tickets") as updates:
        ticket = Feed(hub)({"title": "Broken bench", "requester": CITIZEN}, external_id="T1")
    assert [u for u in updates if "sla" in u] == []
    assert ticket["sla"]["first_response_warn_at"] == "2026-11-27T19:12:00Z"  # 80% of 4h: 09-12, 13-13:12
    with read(hub.engine) as conn:
        (timer,) = conn.execute(select(sla_timers.c.next_check_at).where(sla_timers.c.ticket_id == ticket["id"]))
    assert timer.next_check_at == utc(2026, 11, 27, 19, 12)


def test_a_change_writes_its_ticket_once_with_the_clock_advanced(desk_hub, fake_clock):
    """The clock moves with the change's own UPDATE (one per change, not a second one for the
    clock), and its timer moves with it."""
    hub = desk_hub()
    feed = Feed(hub)
    ticket = feed({"title": "Broken bench", "requester": CITIZEN}, external_id="T1")
    fake_clock.current = utc(2026, 11, 27, 17, 0)  # Friday 11:00: 2h used
    with recorded(hub.engine, "UPDATE tickets") as updates:
        feed({"status": "waiting_on_requester"}, type="ticket.status", external_id="T1")
    assert len(updates) == 1 and "sla=" in updates[0] and "status=" in updates[0]
    paused = feed.ticket(ticket["id"])["sla"]
    assert paused["state"] == "paused" and paused["resolution_elapsed"] == 2 * 3600
    with read(hub.engine) as conn:  # paused, and the first response is in: nothing to watch
        assert conn.execute(select(sla_timers).where(sla_timers.c.ticket_id == ticket["id"])).first() is None
