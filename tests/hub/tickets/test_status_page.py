"""The requester's signed status link: their own ticket, public parts only, and the survey."""

from __future__ import annotations

from sqlalchemy import select

from hub import clock
from hub.app import create_app
from hub.store.db import read, write
from hub.store.tables import ticket_metrics
from hub.tickets import service, status_link
from hub.tickets.service import Actor
from tests.hub.tickets.conftest import Feed

CITIZEN = {"name": "Ann", "email": "ann@example.org", "kind": "citizen"}
AGENT = Actor("api:agent")


def setup(desk_hub):
    hub = desk_hub()
    feed = Feed(hub)
    mine = feed({"title": "Pothole on Elm", "category": "pothole", "requester": CITIZEN}, external_id="T1")
    other = feed({"title": "Someone else's request", "requester": {"email": "zed@example.org"}}, external_id="T2")
    now = clock.now()
    with write(hub.engine) as conn:
        service.update_fields(conn, mine["id"], {"assignee": "crew7@city.gov"}, actor=AGENT, now=now)
        service.add_comment(conn, mine["id"], {"body": "Crew booked for Tuesday", "public": True}, actor=AGENT,
                            now=now, from_requester=False)  # fmt: skip
        service.add_comment(conn, mine["id"], {"body": "budget code 7781", "public": False}, actor=AGENT, now=now,
                            from_requester=False)  # fmt: skip
    desk = hub.config.desk
    return hub, create_app(hub=hub).test_client(), mine, other, status_link.token_for(desk, mine["id"])


def test_the_link_shows_status_public_comments_and_history_only(desk_hub):
    _hub, client, mine, other, token = setup(desk_hub)
    page = client.get(f"/status/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and mine["number"] in html and "Pothole on Elm" in html
    assert "Crew booked for Tuesday" in html and "Assigned to a member of staff" in html and "Public Works" in html
    for secret in ("budget code", "crew7@city.gov", "routing", other["number"], "zed@example.org"):
        assert secret not in html
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    doc = client.get(f"/status/{token}", headers={"Accept": "application/json"}).get_json()
    assert doc["number"] == mine["number"] and doc["status_label"] == "Assigned"
    assert [c["body"] for c in doc["comments"]] == ["Crew booked for Tuesday"]
    assert [h["text"] for h in doc["history"]] == ["Request received", "Assigned to a member of staff"]


def test_forged_altered_or_foreign_links_open_nothing(desk_hub):
    hub, client, _mine, _other, token = setup(desk_hub)
    assert client.get(f"/status/{token[:-2]}xx").status_code == 404
    assert client.get("/status/not-a-token").status_code == 404
    hub.config.desk.secret_keys = ["another-key"]  # a link signed with a key we no longer trust
    assert client.get(f"/status/{token}").status_code == 404
    hub.config.desk.secret_keys = ["another-key", "test-secret-key-0123456789"]  # rotation: old links still open
    assert client.get(f"/status/{token}").status_code == 200


def test_survey_opens_after_resolution_and_is_stored_on_the_ticket(desk_hub):
    hub, client, mine, _other, token = setup(desk_hub)
    early = client.post(f"/status/{token}/survey", data={"rating": "5"})
    assert early.status_code == 422 and "once the request is resolved" in early.get_data(as_text=True)
    with write(hub.engine) as conn:
        service.change_status(conn, mine["id"], "resolved", actor=AGENT, now=clock.now(), note="Patched")
    form = client.get(f"/status/{token}/survey?rating=4").get_data(as_text=True)
    assert 'value="4" required\n checked' in form or 'value="4" required checked' in " ".join(form.split())
    assert client.get(f"/status/{token}").get_data(as_text=True).count('name="rating"') == 5
    answer = client.post(f"/status/{token}/survey", data={"rating": "5", "comment": "Fast, thanks <b>!</b>"})
    assert answer.status_code == 200 and "Thank you" in answer.get_data(as_text=True)
    assert "&lt;b&gt;" in answer.get_data(as_text=True)  # the comment is escaped when shown again
    ticket = Feed(hub).ticket(mine["id"])
    answer_doc = ticket["attributes"]["survey"]
    assert answer_doc["rating"] == 5 and answer_doc["comment"].startswith("Fast")
    with read(hub.engine) as conn:
        stored = conn.execute(select(ticket_metrics.c.satisfaction).where(ticket_metrics.c.ticket_id == mine["id"]))
        assert stored.scalar() == 5
    bad = client.post(f"/status/{token}/survey", json={"rating": 9})
    assert bad.status_code == 422 and "1 to 5" in bad.get_json()["message"]
