"""Sending through Microsoft Graph sendMail with an msal client-credentials token. Microsoft's
endpoints are played by `responses` with the documented payload shapes (OpenID configuration,
token response, 202 from sendMail); the hub side (pipeline, outbox, msal, HttpClient) is real."""

from __future__ import annotations

import base64
from email import message_from_bytes, policy

import pytest
import responses
import yaml
from sqlalchemy import select

from hub.outbox.dispatcher import dispatch_due
from hub.pipeline.inbox import receive
from hub.pipeline.worker import drain
from hub.sdk import RawEvent
from hub.store.db import read
from hub.store.tables import outbox
from tests.connectors.email.mails import mail

TENANT = "contoso-tenant"
LOGIN = f"https://login.microsoftonline.com/{TENANT}"
SEND = "https://graph.microsoft.com/v1.0/users/helpdesk%40city.example.gov/sendMail"
SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def graph_hub(make_hub, monkeypatch):
    monkeypatch.setenv("GRAPH_SECRET", SECRET)
    settings = {
        "address": "helpdesk@city.example.gov",
        "oauth": {"tenant_id": TENANT, "client_id": "app-id", "client_secret": "${GRAPH_SECRET}"},
        "replies": {"transport": "graph"},
    }
    doc = {"hub": {"data_dir": "{data_dir}"}, "instances": [{"id": "m365", "connector": "email", "settings": settings}]}
    return make_hub(yaml.safe_dump(doc))


def microsoft(rsps: responses.RequestsMock, token_status: int = 200, token_body: dict | None = None) -> None:
    rsps.add(
        responses.GET,
        f"{LOGIN}/v2.0/.well-known/openid-configuration",
        json={
            "token_endpoint": f"{LOGIN}/oauth2/v2.0/token",
            "authorization_endpoint": f"{LOGIN}/oauth2/v2.0/authorize",
            "issuer": f"{LOGIN}/v2.0",
        },
    )
    # msal asks the instance discovery endpoint after an error, to tell a wrong tenant apart
    rsps.add(
        responses.GET,
        "https://login.microsoftonline.com/common/discovery/instance",
        json={
            "tenant_discovery_endpoint": f"{LOGIN}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": "login.microsoftonline.com", "aliases": ["login.microsoftonline.com"]}],
        },
    )
    rsps.add(
        responses.POST,
        f"{LOGIN}/oauth2/v2.0/token",
        status=token_status,
        json=token_body or {"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-1"},
    )


def new_ticket(hub) -> None:
    original = mail("Permit question", message_id="<permit-1@example.org>")
    receive(hub.engine, "m365", [RawEvent("m1", original.as_bytes(), {}, "message/rfc822")])
    drain(hub)


def test_acknowledgement_is_sent_as_mime_through_graph(graph_hub):
    new_ticket(graph_hub)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        microsoft(rsps)
        rsps.add(responses.POST, SEND, status=202)
        assert dispatch_due(graph_hub).sent == 1
        (call,) = [c for c in rsps.calls if c.request.url == SEND]
        token_call = next(c for c in rsps.calls if c.request.url.endswith("/token"))
    assert call.request.headers["Authorization"] == "Bearer tok-1"
    assert call.request.headers["Content-Type"] == "text/plain"
    sent = message_from_bytes(base64.b64decode(call.request.body), policy=policy.default)
    assert sent["To"] == "ann@example.org"
    assert sent["In-Reply-To"] == "<permit-1@example.org>"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["Message-ID"].startswith("<hub.")
    assert "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in token_call.request.body
    assert "grant_type=client_credentials" in token_call.request.body


def test_rejected_app_credentials_stop_the_mail_with_a_reason_that_hides_the_secret(graph_hub):
    new_ticket(graph_hub)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        microsoft(
            rsps,
            401,
            {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
        )
        assert dispatch_due(graph_hub).dead == 1
        assert not [c for c in rsps.calls if c.request.url == SEND]
    with read(graph_hub.engine) as conn:
        (row,) = conn.execute(select(outbox)).all()
    assert row.state == "dead"
    assert "invalid_client" in row.last_error and "Invalid client secret" in row.last_error
    assert SECRET not in row.last_error


def test_graph_throttling_is_retried_later(graph_hub, fake_clock):
    new_ticket(graph_hub)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        microsoft(rsps)
        rsps.add(responses.POST, SEND, status=429, headers={"Retry-After": "600"})
        report = dispatch_due(graph_hub)
    assert report.retried == 1
    with read(graph_hub.engine) as conn:
        (row,) = conn.execute(select(outbox)).all()
    assert row.state == "pending" and "429" in row.last_error
    assert (row.next_attempt_at - fake_clock.current).total_seconds() >= 600
