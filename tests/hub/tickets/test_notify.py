"""Requester updates: what goes out, when, to whom and through which channel."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from hub import clock, schemas
from hub.outbox.dispatcher import dispatch_due
from hub.outbox.queue import listing
from hub.store.db import read, write
from hub.tickets import service
from hub.tickets.service import Actor
from tests import reference_connector as ref
from tests.hub.tickets.conftest import CALLBACK_SECRET, Feed

CITIZEN = {"name": "Ann", "email": "ann@example.org", "kind": "citizen"}
AGENT = Actor("api:agent")


def sent(hub) -> list[dict[str, Any]]:
    dispatch_due(hub)
    out = [payload for _instance, payload, _key in ref.NOTIFIED]
    for payload in out:
        schemas.validate("notification", payload)
        assert schemas.reference_validator("notification").is_valid(payload)
    return out


def test_acknowledgement_carries_the_number_and_a_status_link(desk_hub):
    hub = desk_hub()
    ticket = Feed(hub)({"title": "Broken bench", "requester": CITIZEN})
    (ack,) = sent(hub)
    assert ack["kind"] == "acknowledgement" and ack["ticket"]["number"] == ticket["number"]
    assert ticket["number"] in ack["message"] and ack["status_url"].startswith("https://desk.city.gov/status/")
    assert ack["status_url"] in ack["message"]
    assert ack["recipients"] == [{"address": "ann@example.org", "name": "Ann", "channel": "api", "role": "requester"}]


def test_assignment_agent_comments_waiting_and_resolution_reach_the_requester(desk_hub):
    hub = desk_hub()
    ticket = Feed(hub)({"title": "Broken bench", "category": "pothole", "requester": CITIZEN})
    tid, now = ticket["id"], clock.now()
    with write(hub.engine) as conn:
        service.update_fields(conn, tid, {"assignee": "crew7@city.gov"}, actor=AGENT, now=now)
        service.add_comment(conn, tid, {"body": "Crew booked for Tuesday", "public": True}, actor=AGENT, now=now,
                            from_requester=False)  # fmt: skip
        service.add_comment(conn, tid, {"body": "internal: check the budget", "public": False}, actor=AGENT, now=now,
                            from_requester=False)  # fmt: skip
        service.change_status(conn, tid, "waiting_on_requester", actor=AGENT, now=now, note="Which house number?")
        service.add_comment(conn, tid, {"body": "No. 12", "author": {"email": "ann@example.org"}}, actor=AGENT,
                            now=now, from_requester=True)  # fmt: skip
        service.change_status(conn, tid, "resolved", actor=AGENT, now=now, note="Filled and sealed")
    kinds = [(p["kind"], p["comment"]["body"] if p["comment"] else None) for p in sent(hub)]
    assert kinds == [
        ("acknowledgement", None),
        ("assigned", None),
        ("comment", "Crew booked for Tuesday"),
        ("waiting", "Which house number?"),  # the note rides on the status update, not twice
        ("resolved", "Filled and sealed"),
    ]
    resolved = ref.NOTIFIED[-1][1]
    assert resolved["survey_url"] == resolved["status_url"] + "/survey"
    assert "internal" not in json.dumps([p for _i, p, _k in ref.NOTIFIED])
    assert "public-works" in ref.NOTIFIED[1][1]["message"]


def test_a_connector_without_a_notify_action_gets_nothing(desk_hub):
    hub = desk_hub()
    Feed(hub)({"title": "Noise complaint", "email": "bob@example.org"}, instance="hook")
    with read(hub.engine) as conn:
        assert listing(conn) == []


def test_only_the_configured_kinds_go_out(desk_hub):
    hub = desk_hub(extra="notifications: {callback_instance: hook, kinds: [resolved]}")
    feed = Feed(hub)
    feed({"title": "Broken bench", "requester": CITIZEN}, external_id="T1")
    feed({"status": "resolved"}, type="ticket.status", external_id="T1")
    assert [p["kind"] for p in sent(hub)] == ["resolved"]


class Receiver:
    """A real HTTP endpoint on loopback that records what it was sent."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/updates"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def build(status: int = 200, headers: dict[str, str] | None = None) -> Receiver:
        made.append(Receiver(status, headers))
        return made[-1]

    yield build
    for r in made:
        r.close()


def test_callback_urls_get_signed_updates(desk_hub, receiver):
    hub = desk_hub()
    endpoint = receiver()
    data = {"title": "Missed pickup", "email": "bob@example.org", "callback": endpoint.url}
    ticket = Feed(hub)(data, instance="hook")
    assert dispatch_due(hub).sent == 1
    ((headers, body),) = endpoint.requests
    doc = Webhook(CALLBACK_SECRET).verify(body, headers)  # the spec's reference implementation agrees
    assert doc["kind"] == "acknowledgement" and doc["ticket"]["number"] == ticket["number"]
    assert "callback_url" not in doc
    schemas.validate("notification", doc)
    assert headers["webhook-id"].startswith(f"callback:{ticket['id']}:ack")
    with read(hub.engine) as conn:
        assert listing(conn)[0]["state"] == "done"


def test_callback_failures_retry_or_stop(desk_hub, receiver):
    hub = desk_hub()
    busy, gone, feed = receiver(503, {"Retry-After": "120"}), receiver(410), Feed(hub)
    feed({"title": "A", "email": "a@example.org", "callback": busy.url}, instance="hook")
    assert dispatch_due(hub).retried == 1
    feed({"title": "B", "email": "b@example.org", "callback": gone.url}, instance="hook")
    assert dispatch_due(hub).dead == 1
    with read(hub.engine) as conn:
        rows = {r["state"]: r for r in listing(conn)}
    assert "answered 503" in rows["pending"]["last_error"] and "410 Gone" in rows["dead"]["last_error"]


def test_callbacks_to_internal_addresses_are_refused_unless_allowed(desk_hub, receiver, write_config, make_hub):
    hub = desk_hub()
    hub.config.instance("hook").settings["callback"]["allow_networks"] = []
    endpoint = receiver()
    Feed(hub)({"title": "SSRF", "email": "x@example.org", "callback": endpoint.url}, instance="hook")
    assert dispatch_due(hub).dead == 1
    assert endpoint.requests == []
    with read(hub.engine) as conn:
        assert "127.0.0.1 is not a public address" in listing(conn)[0]["last_error"]


def test_sla_alerts_can_go_to_a_signed_webhook(desk_hub, receiver, fake_clock):
    from datetime import UTC, datetime

    from hub.tickets.sla import check_due
    from tests.hub.tickets.conftest import ROUTING

    endpoint = receiver()
    routing = ROUTING.replace("water: {department: Utilities}", f"water: {{notify: {{url: '{endpoint.url}'}}}}")
    hub = desk_hub(routing=routing)
    Feed(hub)({"title": "Flooding on 5th Street"})  # water, urgent, 30 minutes around the clock
    fake_clock.current = datetime(2026, 11, 27, 15, 31, tzinfo=UTC)
    assert check_due(hub).breaches == 1
    dispatch_due(hub)
    kinds = [json.loads(body)["kind"] for _headers, body in endpoint.requests]
    assert kinds == ["sla_breach"]  # the warning was passed over: the breach says it all
    headers = endpoint.requests[0][0]
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-id"].startswith("sla_breach:")
