"""/api/v1/tickets on SQLite and PostgreSQL: scopes, filters, pages, and changes with their history."""

from __future__ import annotations

from hub.pipeline.worker import drain
from hub.store.db import write
from hub.web import tokens
from tests.hub.web.conftest import signed, ticket_count

PROBLEM = "application/problem+json"


def create(client, auth, **fields):
    response = client.post("/api/v1/tickets", json={"title": "Printer jammed", **fields}, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def test_no_token_is_401_wrong_scope_is_403(client, make_token):
    response = client.get("/api/v1/tickets")
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bogus = client.get("/api/v1/tickets", headers={"Authorization": "Bearer hub_nope"})
    assert bogus.status_code == 401 and "invalid_token" in bogus.headers["WWW-Authenticate"]
    reader = make_token("tickets:read")
    assert client.get("/api/v1/tickets", headers=reader).status_code == 200
    denied = client.post("/api/v1/tickets", json={"title": "x"}, headers=reader)
    assert denied.status_code == 403 and "tickets:write" in denied.json["detail"]
    assert client.get("/api/v1/events", headers=reader).status_code == 403


def test_read_token_reads_a_webhook_ticket_but_cannot_change_it(client, web_hub, make_token):
    body, headers = signed({"ref": "IVR-7", "title": "Water main break", "urgency": "P1"})
    assert client.post("/hooks/intake", data=body, headers=headers).status_code == 202
    drain(web_hub)
    reader = make_token("tickets:read", name="dashboard")
    (ticket,) = client.get("/api/v1/tickets", headers=reader).json["items"]
    detail = client.get(f"/api/v1/tickets/{ticket['number']}", headers=reader)
    assert detail.status_code == 200 and detail.json["priority"] == "urgent"
    assert detail.json["history"][0]["actor"] == "connector:intake"
    for method, path, payload in (
        ("patch", f"/api/v1/tickets/{ticket['id']}", {"status": "closed"}),
        ("post", f"/api/v1/tickets/{ticket['id']}/comments", {"body": "hi"}),
    ):
        assert getattr(client, method)(path, json=payload, headers=reader).status_code == 403
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=reader).json["status"] == "new"


def test_revoked_token_is_401(client, web_hub, make_token):
    auth = make_token("tickets:read", name="old-dashboard")
    assert client.get("/api/v1/tickets", headers=auth).status_code == 200
    with write(web_hub.engine) as conn:
        assert tokens.revoke(conn, "old-dashboard") == 1
    assert client.get("/api/v1/tickets", headers=auth).status_code == 401


def test_create_goes_through_the_service_with_history_and_idempotency(client, web_hub, make_token):
    auth = make_token("tickets:write", name="staff-portal")
    doc = create(
        client,
        auth,
        priority="high",
        queue="it",
        channel="phone",
        requester={"name": "Ana", "email": "Ana@City.gov", "kind": "employee"},
        tags=["printer", "printer"],
    )
    assert doc["number"].startswith("REQ-") and doc["channel"] == "phone" and doc["tags"] == ["printer"]
    assert doc["source"]["instance"] == "api"
    assert doc["history"] == [
        {
            "at": doc["created_at"],
            "actor": "api:staff-portal",
            "action": "created",
            "field": "status",
            "old": None,
            "new": "new",
            "event_id": None,
        }
    ]
    assert [s["role"] for s in doc["subscribers"]] == ["requester"]
    key = {"Idempotency-Key": "form-1"}
    first = client.post("/api/v1/tickets", json={"title": "Once"}, headers={**auth, **key})
    again = client.post("/api/v1/tickets", json={"title": "Once"}, headers={**auth, **key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"] and ticket_count(web_hub) == 2


def test_create_validates_body(client, make_token):
    auth = make_token("tickets:write")
    missing = client.post("/api/v1/tickets", json={"priority": "high"}, headers=auth)
    assert missing.status_code == 422 and missing.json["errors"][0]["path"] == "(body)"
    bad = client.post("/api/v1/tickets", json={"title": "x", "priority": "whenever"}, headers=auth)
    assert bad.status_code == 422 and bad.json["errors"][0]["path"] == "priority"
    nul = client.post("/api/v1/tickets", json={"title": "a\u0000b"}, headers=auth)
    assert nul.status_code == 422
    broken = client.post("/api/v1/tickets", data=b'{"title": ', content_type="application/json", headers=auth)
    assert broken.status_code == 400 and broken.json["position"] == 10
    form = client.post("/api/v1/tickets", data={"title": "x"}, headers=auth)
    assert form.status_code == 415


def test_update_status_priority_queue_assignee_write_history(client, make_token):
    auth = make_token("tickets:write", name="agent")
    doc = create(client, auth)
    response = client.patch(
        f"/api/v1/tickets/{doc['number']}",
        json={"priority": "urgent", "queue": "facilities", "assignee": "lee@city.gov"},
        headers=auth,
    )
    assert response.status_code == 200
    updated = response.json
    assert (updated["priority"], updated["queue"], updated["assignee"], updated["status"]) == (
        "urgent",
        "facilities",
        "lee@city.gov",
        "assigned",  # assigning a new ticket moves it on, as for connector events
    )
    changed = {(h["field"], h["old"], h["new"]) for h in updated["history"] if h["action"] == "updated"}
    assert ("priority", "normal", "urgent") in changed and ("status", "new", "assigned") in changed
    resolved = client.patch(
        f"/api/v1/tickets/{doc['id']}", json={"status": "resolved", "note": "Replaced the roller"}, headers=auth
    ).json
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert resolved["comments"][-1]["body"] == "Replaced the roller" and resolved["comments"][-1]["public"]
    assert all(h["actor"] == "api:agent" for h in resolved["history"])
    assert client.patch(f"/api/v1/tickets/{doc['id']}", json={}, headers=auth).status_code == 422
    assert client.patch(f"/api/v1/tickets/{doc['id']}", json={"note": "x"}, headers=auth).status_code == 422
    assert client.patch("/api/v1/tickets/999999", json={"status": "closed"}, headers=auth).status_code == 404


def test_comments_public_and_internal(client, make_token):
    auth = make_token("tickets:write")
    doc = create(client, auth)
    internal = client.post(f"/api/v1/tickets/{doc['id']}/comments", json={"body": "check warranty"}, headers=auth)
    public = client.post(
        f"/api/v1/tickets/{doc['id']}/comments", json={"body": "On our way", "public": True}, headers=auth
    )
    assert internal.status_code == public.status_code == 201
    assert (internal.json["public"], public.json["public"]) == (False, True)
    detail = client.get(f"/api/v1/tickets/{doc['id']}", headers=auth).json
    assert [c["body"] for c in detail["comments"]] == ["check warranty", "On our way"]
    assert detail["first_response_at"] is not None  # the public answer counts as first response
    assert sum(1 for h in detail["history"] if h["action"] == "commented") == 2


def test_filters_and_cursor_pages(client, make_token):
    auth = make_token("tickets:write")
    for i in range(5):
        create(client, auth, title=f"Pothole {i}", queue="roads" if i % 2 else "parks")
    create(client, auth, title="Graffiti", requester={"email": "kim@example.org"})
    seen, cursor = [], None
    while True:
        query = {"limit": 2, "q": "pothole", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/tickets", query_string=query, headers=auth).json
        seen += [t["title"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"Pothole {i}" for i in (4, 3, 2, 1, 0)]
    roads = client.get("/api/v1/tickets", query_string={"queue": "roads"}, headers=auth).json["items"]
    assert [t["title"] for t in roads] == ["Pothole 3", "Pothole 1"]
    kim = client.get("/api/v1/tickets", query_string={"requester": "KIM@example.org"}, headers=auth).json
    assert [t["title"] for t in kim["items"]] == ["Graffiti"]
    future = client.get("/api/v1/tickets", query_string={"updated_since": "2999-01-01T00:00:00Z"}, headers=auth)
    assert future.json == {"items": [], "next_cursor": None}
    for bad in ({"limit": 0}, {"status": "open"}, {"cursor": "abc"}, {"updated_since": "yesterday"}):
        response = client.get("/api/v1/tickets", query_string=bad, headers=auth)
        assert response.status_code == 400 and response.mimetype == PROBLEM, bad


def test_unknown_ticket_is_404_problem(client, make_token):
    auth = make_token("tickets:read")
    for ref in ("REQ-2026-999999", "12345", "99999999999999999999999"):
        response = client.get(f"/api/v1/tickets/{ref}", headers=auth)
        assert response.status_code == 404 and response.mimetype == PROBLEM


def test_store_unreachable_is_503_problem(make_hub):
    from hub.app import close_app, create_app
    from hub.runtime import Hub
    from hub.store.db import make_engine
    from tests.hub.web.conftest import WEB_CONFIG

    hub = Hub(make_hub(WEB_CONFIG).config, engine=make_engine("postgresql+psycopg://root@127.0.0.1:9/none"))
    app = create_app(hub=hub)
    try:
        response = app.test_client().get("/api/v1/tickets", headers={"Authorization": "Bearer hub_x"})
    finally:
        close_app(app)
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == "30"
