"""POST /hooks/<instance>: verification, limits, idempotency and durability, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from typing import Any

import pytest
from sqlalchemy import event, select

from hub import metrics
from hub.app import close_app, create_app
from hub.pipeline.worker import drain
from hub.runtime import Hub
from hub.store.db import make_engine, read
from hub.store.migrate import upgrade
from hub.store.tables import inbox
from hub.tickets import queries
from tests.hub.web.conftest import HMAC_SECRET, SHARED_TOKEN, WEB_CONFIG, inbox_count, signed, ticket_count

PROBLEM = "application/problem+json"
REQUEST = {"ref": "IVR-1", "title": "Streetlight out on Elm St", "urgency": "P1", "email": "dana@example.org"}


def failures(instance: str, reason: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "hub_webhook_verification_failures_total", {"instance": instance, "reason": reason}
        )
        or 0.0
    )


def test_signed_event_is_stored_then_becomes_a_ticket(client, web_hub):
    body, headers = signed(REQUEST, msg_id="msg_1")
    response = client.post("/hooks/intake", data=body, headers=headers)
    assert response.status_code == 202
    assert response.json["status"] == "accepted" and response.json["events"][0]["duplicate"] is False
    with read(web_hub.engine) as conn:
        row = conn.execute(select(inbox)).one()
    assert (row.instance, row.dedup_key, bytes(row.body)) == ("intake", "msg_1", body)
    # the headers as sent, named as HTTP writes them (what mappings and replays read)
    assert row.headers["Webhook-Id"] == "msg_1" and row.headers["Content-Type"] == "application/json"
    assert drain(web_hub).done == 1
    with read(web_hub.engine) as conn:
        (ticket,) = queries.search(conn)
    assert ticket["title"] == REQUEST["title"] and ticket["priority"] == "urgent"
    assert ticket["queue"] == "triage" and ticket["channel"] == "phone"


def test_redelivery_is_acknowledged_and_stores_nothing(client, web_hub):
    body, headers = signed(REQUEST, msg_id="msg_1")
    assert client.post("/hooks/intake", data=body, headers=headers).status_code == 202
    # a retry carries the same webhook-id with a fresh timestamp and signature
    body, headers = signed(REQUEST, msg_id="msg_1")
    again = client.post("/hooks/intake", data=body, headers=headers)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert inbox_count(web_hub) == 1
    drain(web_hub)
    assert ticket_count(web_hub) == 1


def test_wrong_signature_is_401_and_counted_and_stores_nothing(client, web_hub, caplog):
    body, headers = signed(REQUEST)
    headers["webhook-signature"] = "v1," + "A" * 43 + "="
    before = failures("intake", "signature")
    response = client.post("/hooks/intake", data=body, headers=headers)
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.json["detail"] == "no webhook-signature entry matches"
    assert failures("intake", "signature") == before + 1
    assert inbox_count(web_hub) == 0
    assert "Streetlight" not in caplog.text and "refused" in caplog.text  # logged, without the body


def test_expired_timestamp_is_401(client, web_hub, fake_clock):
    body, headers = signed(REQUEST)
    fake_clock.advance(minutes=6)
    response = client.post("/hooks/intake", data=body, headers=headers)
    assert response.status_code == 401 and "too old" in response.json["detail"]
    assert inbox_count(web_hub) == 0


def test_body_over_the_limit_is_413_before_anything_else(client, web_hub):
    body, headers = signed({"title": "x" * 5000})
    response = client.post("/hooks/intake", data=body, headers=headers)
    assert response.status_code == 413 and response.mimetype == PROBLEM
    assert response.json["limit"] == 4096
    assert inbox_count(web_hub) == 0


def test_body_of_unknown_length_over_the_limit_is_413(client, web_hub):
    """A server that streams a chunked body on (input_terminated) still stops reading at the limit."""
    body, headers = signed({"title": "x" * 5000})
    response = client.post(
        "/hooks/intake",
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert inbox_count(web_hub) == 0


def test_broken_json_is_400_with_its_position_after_verification(client, web_hub):
    body, headers = signed(b'{"title": "a",\n "x": }')
    response = client.post("/hooks/intake", data=body, headers=headers)
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert (response.json["line"], response.json["column"]) == (2, 7)
    assert "line 2 column 7" in response.json["detail"]
    assert inbox_count(web_hub) == 0
    # an unsigned broken body is refused for its signature first: nothing is parsed before that
    assert client.post("/hooks/intake", data=b"{", content_type="application/json").status_code == 401


def test_content_type_must_be_json(client, web_hub):
    body, headers = signed(REQUEST)
    response = client.post("/hooks/intake", data=body, headers={**headers, "Content-Type": "text/plain"})
    assert response.status_code == 415 and response.mimetype == PROBLEM
    body, headers = signed(REQUEST)
    ok = client.post("/hooks/intake", data=body, headers={**headers, "Content-Type": "application/cloudevents+json"})
    assert ok.status_code == 202


@pytest.mark.parametrize("instance", ["nope", "src"])
def test_unknown_or_polled_instance_is_404(client, instance):
    response = client.post(f"/hooks/{instance}", data=b"{}", content_type="application/json")
    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_instance_without_verify_section_refuses_everything(client, web_hub):
    response = client.post("/hooks/unsigned", json={"title": "x"})
    assert response.status_code == 401 and "no verify section" in response.json["detail"]
    assert inbox_count(web_hub) == 0


def test_hmac_instance_dedups_on_its_delivery_header(client, web_hub):
    body = json.dumps({"title": "Issue opened"}).encode()
    mac = "sha256=" + hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": mac, "X-GitHub-Delivery": "d-42"}
    assert client.post("/hooks/github", data=body, headers=headers).status_code == 202
    assert client.post("/hooks/github", data=body, headers=headers).status_code == 200
    with read(web_hub.engine) as conn:
        assert conn.execute(select(inbox.c.dedup_key)).scalars().all() == ["d-42"]


def test_token_instance_dedups_on_mapping_key_and_does_not_store_the_token(client, web_hub):
    headers = {"Authorization": f"Bearer {SHARED_TOKEN}"}
    assert client.post("/hooks/form", json={"form_id": 7, "title": "A"}, headers=headers).status_code == 202
    assert client.post("/hooks/form", json={"form_id": 7, "title": "A "}, headers=headers).status_code == 200
    wrong = client.post("/hooks/form", json={"form_id": 8, "title": "B"}, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401 and SHARED_TOKEN not in wrong.get_data(as_text=True)
    with read(web_hub.engine) as conn:
        row = conn.execute(select(inbox)).one()
    assert row.dedup_key == "7"
    assert SHARED_TOKEN not in json.dumps(row.headers) and "Authorization" not in row.headers


def test_payload_the_mapping_cannot_handle_is_dead_lettered_not_a_500(client, web_hub):
    body, headers = signed({"ref": "IVR-9", "summary": "no title here"})
    assert client.post("/hooks/intake", data=body, headers=headers).status_code == 202
    assert drain(web_hub).dead == 1
    with read(web_hub.engine) as conn:
        (row,) = conn.execute(select(inbox)).all()
    assert row.state == "dead" and "title: required value is missing" in row.last_error


def post_signed_to(hub: Hub) -> Any:
    """One signed request to a fresh app over `hub` (closed afterwards)."""
    app = create_app(hub=hub)
    try:
        body, headers = signed(REQUEST)
        return app.test_client().post("/hooks/intake", data=body, headers=headers)
    finally:
        close_app(app)


def test_store_unreachable_is_503(make_hub, write_config):
    hub = Hub(make_hub(WEB_CONFIG).config, engine=make_engine("postgresql+psycopg://root@127.0.0.1:9/none"))
    response = post_signed_to(hub)
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == "30"


def test_store_refusing_writes_is_503_and_nothing_is_half_written(make_hub, tmp_path):
    """A real SQLite file that refuses writes (query_only), as a full or read-only disk would."""
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    setup = make_engine(url)
    upgrade(setup)
    setup.dispose()
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA query_only=ON")

    hub = Hub(make_hub(WEB_CONFIG).config, engine=engine)
    response = post_signed_to(hub)
    assert response.status_code == 503
    check = make_engine(url)
    assert inbox_count(Hub(hub.config, engine=check)) == 0
    check.dispose()
    engine.dispose()


def test_other_methods_are_405_problems_naming_post(client, web_hub):
    response = client.get("/hooks/intake")
    assert response.status_code == 405 and response.mimetype == PROBLEM
    assert response.headers["Allow"] == "POST"
    assert response.json["instance"] == "/hooks/intake"


def test_paths_beside_the_endpoint_are_flasks(client, web_hub):
    """Only /hooks/<instance> is the endpoint's; a longer path is Flask's (a 404 problem)."""
    body, headers = signed(REQUEST)
    response = client.post("/hooks/intake/extra", data=body, headers=headers)
    assert response.status_code == 404 and response.mimetype == PROBLEM
    assert inbox_count(web_hub) == 0
