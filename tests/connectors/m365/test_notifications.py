"""Change notifications and subscriptions: the validationToken handshake, clientState on every
notification, storage + a catch-up poll, renewal before expiry, and each lifecycle event."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.m365.examples import CHANNEL, MAILBOX, TEAM
from hub import clock
from hub.pipeline.inbox import receive
from hub.pipeline.worker import drain
from hub.scheduler import maintenance_job, requests_job
from hub.sdk import InboundRequest, VerificationError
from hub.store.db import read
from hub.store.tables import inbox, instance_state
from hub.tickets import queries
from tests.connectors.m365.conftest import GRAPH
from tests.connectors.m365.test_mail import DELTA as MAIL_DELTA
from tests.connectors.m365.test_mail import LINK as MAIL_LINK
from tests.connectors.m365.test_mail import msg
from tests.connectors.m365.test_teams import TEAMS_DELTA

URL = "https://hub.contoso.gov/hooks/m365"
STATE = "client-state-0123456789abcdef"
NOTIFY = f"""      notifications: {{url: "{URL}", client_state: "${{M365_TEST_STATE}}"}}
"""


def post(items, **query) -> InboundRequest:
    return InboundRequest(
        json.dumps({"value": items}).encode(), {"Content-Type": "application/json"}, "application/json", query
    )


def change(sub="sub-mail", client_state=STATE, message_id="AAMk1"):
    """Shape from the webhooks delivery docs (a message created in a mailbox)."""
    return {
        "id": "lsgTZMr9KwAAA",
        "subscriptionId": sub,
        "subscriptionExpirationDateTime": "2026-11-30T11:00:00Z",
        "clientState": client_state,
        "changeType": "created",
        "resource": f"Users/{MAILBOX}/Messages/{message_id}",
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": f"Users/{MAILBOX}/Messages/{message_id}",
            "@odata.etag": 'W/"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf"',
            "id": message_id,
        },
    }


def lifecycle(event, sub="sub-mail", client_state=STATE):
    return {
        "subscriptionId": sub,
        "subscriptionExpirationDateTime": "2026-11-30T11:00:00Z",
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
        "clientState": client_state,
        "lifecycleEvent": event,
    }


# --- the hooks, called as the web layer calls them -------------------------------------------
def test_validation_handshake_echoes_the_token_as_plain_text(make_connector):
    connector = make_connector()
    token = "Validation: Testing client application reachability for subscription Request-Id: 4d6e2f1a <b>&x"
    reply = connector.handshake(InboundRequest(b"", {}, "text/plain", {"validationToken": token}))
    assert reply is not None and reply.status == 200
    assert reply.body == token.encode() and reply.content_type.startswith("text/plain")
    assert connector.handshake(post([change()])) is None


def test_client_state_is_checked_on_every_notification(make_connector):
    connector = make_connector(notifications={"url": URL, "client_state": STATE})
    connector.verify(post([change(), lifecycle("missed")]))
    with pytest.raises(VerificationError, match="clientState"):
        connector.verify(post([change(), change(client_state="forged-state-0000000000")]))
    with pytest.raises(VerificationError, match="clientState"):
        connector.verify(post([{k: v for k, v in change().items() if k != "clientState"}]))
    with pytest.raises(VerificationError, match="no 'value' list"):
        connector.verify(InboundRequest(b'{"hello": 1}', {}, "application/json"))
    unsubscribed = make_connector()  # no notifications configured: nothing pushed is accepted
    with pytest.raises(VerificationError, match="not configured"):
        unsubscribed.verify(post([{k: v for k, v in change().items() if k != "clientState"}]))


def test_notifications_are_stored_once_and_ask_for_a_poll(m365_hub):
    hub = m365_hub(NOTIFY)
    connector = hub.connector("m365")
    request = post([change(), change(message_id="AAMk2")])
    connector.verify(request)
    events = connector.receive(request)
    assert [s.duplicate for s in receive(hub.engine, "m365", events)] == [False, False]
    assert [s.duplicate for s in receive(hub.engine, "m365", connector.receive(request))] == [True, True]  # redelivery
    with read(hub.engine) as conn:
        row = conn.execute(select(instance_state).where(instance_state.c.instance == "m365")).first()
        bodies = [bytes(r.body) for r in conn.execute(select(inbox.c.body)).all()]
    assert row.poll_requested_at is not None and row.maintenance_requested_at is None
    assert all(STATE.encode() not in body for body in bodies)  # the secret is never stored
    report = drain(hub)
    assert report.ignored == 2 and report.dead == 0  # no ticket from a notification itself


# --- subscriptions against a stateful fake ---------------------------------------------------
class Subscriptions:
    """Graph's /subscriptions for this app, in the documented subscription resource shape."""

    def __init__(self, fake):
        self.items: dict[str, dict] = {}
        self.ids = (f"sub-{n}" for n in itertools.count(1))
        fake.on("GET", "subscriptions", lambda call, m: (200, {"value": list(self.items.values())}, {}))
        fake.on("POST", "subscriptions", self.create)
        fake.on("PATCH", "subscriptions/([^/]+)", self.renew)
        fake.on("POST", "subscriptions/([^/]+)/reauthorize", self.reauthorize)

    def create(self, call, _match):
        sub = {
            "@odata.context": f"{GRAPH}/$metadata#subscriptions/$entity",
            "id": next(self.ids),
            "applicationId": "24d3b144-21ae-4080-943f-7067b395b913",
            "creatorId": "8ee44408-0679-472c-bc2a-692812af3437",
            "latestSupportedTlsVersion": "v1_2",
            "includeResourceData": False,
            **call.body,
        }
        self.items[sub["id"]] = sub
        return 201, sub, {}

    def renew(self, call, match):
        sub = self.items.get(match.group(1))
        if sub is None:
            return 404, {"error": {"code": "ResourceNotFound", "message": "The object was not found."}}, {}
        sub["expirationDateTime"] = call.body["expirationDateTime"]
        return 200, sub, {}

    def reauthorize(self, call, match):
        if match.group(1) not in self.items:
            return 404, {"error": {"code": "ResourceNotFound", "message": "The object was not found."}}, {}
        return 204, None, {}

    def by_label(self, word):
        return next(s for s in self.items.values() if word in s["resource"])


def serve_intake(fake, new_mail: list):
    """Mail delta: nothing at first, then whatever `new_mail` holds; Teams stays quiet."""

    def mail_page(call, _match):
        token = call.query.get("$deltatoken")
        value = list(new_mail) if token else []
        return 200, {"value": value, "@odata.deltaLink": f"{MAIL_LINK}?$deltatoken=d{len(new_mail)}"}, {}

    fake.on("GET", MAIL_DELTA, mail_page)
    fake.on("GET", TEAMS_DELTA, (200, {"value": [], "@odata.deltaLink": f"{GRAPH}/{TEAMS_DELTA}?$deltatoken=t"}, {}))


def expiries(hub) -> dict:
    with read(hub.engine) as conn:
        return conn.execute(select(instance_state.c.expiries).where(instance_state.c.instance == "m365")).scalar()


def test_subscriptions_are_created_then_renewed_before_expiry(fake, m365_hub, fake_clock):
    hub = m365_hub(NOTIFY)
    subs = Subscriptions(fake)
    assert maintenance_job(hub, "m365") is None
    mail_sub, teams_sub = subs.by_label("mailFolders"), subs.by_label("channels")
    assert mail_sub["resource"] == f"users/{MAILBOX}/mailFolders('inbox')/messages"
    assert mail_sub["changeType"] == "created" and teams_sub["changeType"] == "created,updated"
    assert teams_sub["resource"] == f"teams/{TEAM}/channels/{CHANNEL}/messages"
    for sub in (mail_sub, teams_sub):
        assert sub["clientState"] == STATE
        assert sub["notificationUrl"] == sub["lifecycleNotificationUrl"] == URL
    start = clock.now()
    assert clock.parse(teams_sub["expirationDateTime"]) == start + timedelta(minutes=60)
    assert clock.parse(mail_sub["expirationDateTime"]) == start + timedelta(minutes=4230)
    assert expiries(hub)[f"subscription teams {CHANNEL}"] == clock.isoformat(start + timedelta(minutes=60))

    fake_clock.advance(minutes=25)
    maintenance_job(hub, "m365")
    assert fake.made("PATCH") == [] and len(fake.made("POST", "subscriptions")) == 2  # still young: nothing

    fake_clock.advance(minutes=10)  # teams has 25 of 60 minutes left: renew it; mail is far from expiry
    maintenance_job(hub, "m365")
    (patch,) = fake.made("PATCH")
    assert patch.path == f"subscriptions/{teams_sub['id']}"
    assert clock.parse(patch.body["expirationDateTime"]) == clock.now() + timedelta(minutes=60)
    assert expiries(hub)[f"subscription teams {CHANNEL}"] == patch.body["expirationDateTime"]

    fake_clock.advance(hours=36)  # past half of the mail subscription's life as well
    maintenance_job(hub, "m365")
    assert {c.path for c in fake.made("PATCH")} == {
        f"subscriptions/{mail_sub['id']}",
        f"subscriptions/{teams_sub['id']}",
    }


def test_reauthorization_required_reauthorizes_without_polling(fake, m365_hub, fake_clock):
    hub = m365_hub(NOTIFY)
    subs = Subscriptions(fake)
    serve_intake(fake, [])
    maintenance_job(hub, "m365")
    connector = hub.connector("m365")
    request = post([lifecycle("reauthorizationRequired", sub=subs.by_label("mailFolders")["id"])])
    connector.verify(request)
    receive(hub.engine, "m365", connector.receive(request))
    assert requests_job(hub) == [("m365", {"maintenance"})]
    reauthorized = {c.path for c in fake.made("POST", "/reauthorize")}
    assert reauthorized == {f"subscriptions/{s}/reauthorize" for s in subs.items}
    assert fake.made("GET", "messages/delta") == []


@pytest.mark.parametrize("event", ["subscriptionRemoved", "missed"])
def test_removed_or_missed_recreates_and_catches_up_through_delta(fake, m365_hub, fake_clock, event):
    hub = m365_hub(NOTIFY)
    subs = Subscriptions(fake)
    new_mail: list = []
    serve_intake(fake, new_mail)
    maintenance_job(hub, "m365")
    requests_job(hub)  # nothing requested yet
    from hub.pipeline.poll import poll_instance

    poll_instance(hub, "m365")  # initial sync: the folder is empty
    mail_id = subs.by_label("mailFolders")["id"]
    if event == "subscriptionRemoved":
        del subs.items[mail_id]  # Graph removed it
    new_mail.append(msg(7))  # arrived while no notification came through
    connector = hub.connector("m365")
    request = post([lifecycle(event, sub=mail_id)])
    connector.verify(request)
    receive(hub.engine, "m365", connector.receive(request))
    assert requests_job(hub) == [("m365", {"maintenance", "poll"})]
    drain(hub)
    with read(hub.engine) as conn:
        titles = [t["title"] for t in queries.search(conn)]
    assert titles == ["Request 7"]
    created = [c for c in fake.made("POST") if c.path == "subscriptions"]
    assert len(created) == (3 if event == "subscriptionRemoved" else 2)
    assert len(subs.items) == 2 and subs.by_label("mailFolders")["clientState"] == STATE


def test_a_failing_subscription_is_reported_and_polling_goes_on(fake, m365_hub):
    hub = m365_hub(NOTIFY)
    fake.on("GET", "subscriptions", (200, {"value": []}, {}))
    refused = {
        "error": {
            "code": "InvalidRequest",
            "message": "Subscription validation request failed. Notification endpoint must respond with 200 OK.",
        }
    }
    fake.on("POST", "subscriptions", (400, refused, {}))
    error = maintenance_job(hub, "m365")
    assert error and "subscription for mail" in error and "validation request failed" in error
    assert "polling with delta continues" in error
    with read(hub.engine) as conn:
        row = conn.execute(select(instance_state).where(instance_state.c.instance == "m365")).first()
    assert row.last_error == error
