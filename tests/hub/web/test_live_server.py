"""The issue's acceptance run: `hub serve` with the example config on SQLite, driven over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from hub import clock
from hub.web.verify import build_verifier
from tests.hub.web.live import REPO, LiveHub, serve, wait_for

SAMPLE = REPO / "config" / "examples" / "intake-event.json"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    with serve(tmp_path_factory.mktemp("live")) as running:
        yield running


def post(live: LiveHub, body: bytes, **sign) -> requests.Response:  # type: ignore[no-untyped-def]
    headers = build_verifier({"scheme": "standard_webhooks", "secret": live.secret}).sign(body, **sign)
    return requests.post(
        f"{live.url}/hooks/intake", data=body, headers={**headers, "Content-Type": "application/json"}, timeout=30
    )


def event_count(live: LiveHub, admin: dict[str, str]) -> int:
    return len(requests.get(f"{live.url}/api/v1/events", headers=admin, timeout=10).json()["items"])


def test_signed_event_becomes_a_ticket_once_and_bad_requests_store_nothing(live):
    admin = live.token("ops", "admin")
    reader = live.token("dashboard", "tickets:read")
    body = SAMPLE.read_bytes()

    first = post(live, body, msg_id="msg_live_1")
    assert first.status_code == 202, first.text

    def tickets() -> list[dict]:
        return requests.get(f"{live.url}/api/v1/tickets", headers=reader, timeout=10).json()["items"]

    found = wait_for(tickets)
    assert [t["title"] for t in found] == ["Pothole: Large pothole in the eastbound lane"]
    ticket = found[0]
    assert (ticket["queue"], ticket["priority"], ticket["channel"]) == ("public-works", "high", "phone")

    # the same delivery again: acknowledged, nothing new
    again = post(live, body, msg_id="msg_live_1")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # the same event under a new delivery id: stored, but it lands on the same ticket
    assert post(live, body, msg_id="msg_live_2").status_code == 202
    latest = lambda: requests.get(f"{live.url}/api/v1/events", headers=admin, timeout=10).json()["items"][0]  # noqa: E731
    assert wait_for(lambda: latest()["state"] == "done")
    assert len(tickets()) == 1
    stored = event_count(live, admin)

    signed_for_other_body = build_verifier({"scheme": "standard_webhooks", "secret": live.secret}).sign(
        body, msg_id="msg_live_3"
    )
    wrong_signature = requests.post(
        f"{live.url}/hooks/intake",
        data=body.replace(b"Pothole", b"Sinkhole"),
        headers={**signed_for_other_body, "Content-Type": "application/json"},
        timeout=30,
    )
    expired = post(live, body, msg_id="msg_live_4", at=clock.now() - timedelta(minutes=10))
    huge = post(live, b'{"x": "' + b"a" * (20 * 1024 * 1024) + b'"}', msg_id="msg_live_5")
    broken = post(live, b'{"event": "request.created",', msg_id="msg_live_6")
    assert wrong_signature.status_code == 401
    assert wrong_signature.headers["Content-Type"] == "application/problem+json"
    assert expired.status_code == 401 and "too old" in expired.json()["detail"]
    assert huge.status_code == 413
    assert broken.status_code == 400 and broken.json()["position"] == 28
    assert event_count(live, admin) == stored  # none of them stored anything

    # a read token reads the ticket but cannot change it
    detail = requests.get(f"{live.url}/api/v1/tickets/{ticket['number']}", headers=reader, timeout=10)
    assert detail.status_code == 200 and detail.json()["history"][0]["actor"] == "connector:intake"
    denied = requests.patch(
        f"{live.url}/api/v1/tickets/{ticket['id']}", json={"status": "closed"}, headers=reader, timeout=10
    )
    assert denied.status_code == 403

    metrics = requests.get(f"{live.url}/metrics", timeout=10).text
    assert 'hub_webhook_verification_failures_total{instance="intake",reason="signature"} 1.0' in metrics
    assert 'hub_webhook_verification_failures_total{instance="intake",reason="timestamp"} 1.0' in metrics


def test_cli_webhooks_send_signs_with_the_instance_secret(live):
    sent = live.cli("webhooks", "send", "intake", str(SAMPLE), "--url", live.url, "--id", "msg_cli_1")
    assert sent.stdout.startswith("202") and json.loads(sent.stdout.split("\n", 1)[1])["status"] == "accepted"
    repeat = live.cli("webhooks", "send", "intake", str(SAMPLE), "--url", live.url, "--id", "msg_cli_1")
    assert repeat.stdout.startswith("200")
    refused = live.cli(
        "webhooks", "send", "intake", str(SAMPLE), "--url", live.url,
        check=False, env={"HUB_INTAKE_SECRET": "whsec_" + "QUFB" * 8},
    )  # fmt: skip
    assert refused.exit_code == 1 and refused.stdout.startswith("401")


def test_sigterm_stops_the_server_cleanly(tmp_path):
    with serve(tmp_path) as running:
        process = running.process
    assert process.returncode == 0, running.log.read_text()
