"""Shared mailbox intake: delta paging, expired delta tokens, loop protection, threading, end to
end through the pipeline, and idempotent replies."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from connectors.m365 import mail
from connectors.m365.examples import CHANNEL, MAILBOX, TEAM, mail_message
from hub.pipeline import state
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain
from hub.sdk import IgnoreRecord
from hub.store.db import read
from hub.store.tables import inbox
from hub.tickets import queries
from tests.connectors.m365.conftest import GRAPH, graph_error

DELTA = f"users/{MAILBOX}/mailFolders(?:/inbox|\\('inbox'\\))/messages/delta"
LINK = f"{GRAPH}/users/{MAILBOX}/mailFolders('inbox')/messages/delta"
TEAMS_DELTA = f"teams/{TEAM}/channels/{CHANNEL}/messages/delta"


def page(messages, *, next_token=None, delta_token=None):
    doc = {"@odata.context": f"{GRAPH}/$metadata#Collection(message)", "value": messages}
    if next_token:
        doc["@odata.nextLink"] = f"{LINK}?$skiptoken={next_token}"
    if delta_token:
        doc["@odata.deltaLink"] = f"{LINK}?$deltatoken={delta_token}"
    return doc


def serve_delta(fake, pages: dict[str | None, object]):
    """Pages by state token: None is the initial request; a value may be a (status, body) pair."""

    def reply(call, _match):
        token = call.query.get("$skiptoken") or call.query.get("$deltatoken")
        found = pages[token]
        if isinstance(found, tuple):
            return found[0], found[1], {}
        return 200, found, {}

    fake.on("GET", DELTA, reply)


def quiet_teams(fake):
    fake.on("GET", TEAMS_DELTA, (200, {"value": [], "@odata.deltaLink": f"{GRAPH}/{TEAMS_DELTA}?$deltatoken=t0"}, {}))


def msg(n: int, **changes):
    base = {"id": f"AAMk{n}", "internetMessageId": f"<m{n}@contoso.com>", "conversationId": f"conv{n}"}
    return mail_message(**{**base, "subject": f"Request {n}", **changes})


def inbox_count(hub) -> int:
    with read(hub.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


def test_delta_paging_follows_next_links_and_keeps_the_delta_link(fake, make_connector):
    serve_delta(
        fake,
        {
            None: page([msg(1), msg(2)], next_token="p2"),
            "p2": page([msg(3)], next_token="p3"),
            "p3": page([msg(4), {"id": "AAMk9", "@removed": {"reason": "deleted"}}], delta_token="d1"),
            "d1": page([], delta_token="d2"),
        },
    )
    connector = make_connector(teams=None)
    connector.settings.pop("teams")
    results, cursor = [], None
    for _ in range(3):
        result = connector.poll(cursor)
        results.append(result)
        cursor = result.cursor
    assert [len(r.events) for r in results] == [2, 1, 1] and [r.more for r in results] == [True, True, False]
    assert cursor["links"][f"mail:{MAILBOX}:inbox"].endswith("$deltatoken=d1")
    first = fake.made("GET", "messages/delta")[0]
    assert first.query["$select"].startswith("id,internetMessageId") and "odata.maxpagesize" in first.headers["Prefer"]
    assert "$select" not in fake.made("GET", "messages/delta")[1].query  # the next link carries the query
    nothing_new = connector.poll(cursor)
    assert nothing_new.events == [] and nothing_new.cursor["links"][f"mail:{MAILBOX}:inbox"].endswith("d2")


def test_poll_to_ticket_and_reply_in_thread_becomes_a_comment(fake, m365_hub):
    hub = m365_hub()
    quiet_teams(fake)
    reply = msg(
        2,
        conversationId="conv1",
        subject="RE: Request 1",
        body={"contentType": "text", "content": "Still broken this morning."},
        internetMessageHeaders=[{"name": "In-Reply-To", "value": "<m1@contoso.com>"}],
    )
    serve_delta(fake, {None: page([msg(1)], delta_token="d1"), "d1": page([reply], delta_token="d2")})
    assert poll_instance(hub, "m365").received == 1
    drain(hub)
    assert poll_instance(hub, "m365").received == 1
    drain(hub)
    with read(hub.engine) as conn:
        (ticket,) = queries.search(conn)
        comments = queries.comment_list(conn, ticket["id"])
        doc = queries.get(conn, ticket["number"])
    assert ticket["title"] == "Request 1" and ticket["channel"] == "m365_mail" and ticket["queue"] == "service-desk"
    assert doc["requester"]["email"] == "danas@contoso.com"
    assert doc["attributes"]["m365_mail"]["message_id"] == "AAMk1"
    assert [c["body"] for c in comments] == ["Still broken this morning."]


def test_expired_delta_token_resyncs_without_duplicates(fake, m365_hub):
    hub = m365_hub()
    quiet_teams(fake)
    expired = graph_error("SyncStateNotFound", "The sync state generation is not found. The delta token is expired.")
    calls = {"initial": 0}

    def initial(call, _match):
        calls["initial"] += 1
        if call.query.get("$deltatoken") == "d1":
            return 410, expired, {}
        if call.query.get("$deltatoken") == "d2":
            return 200, page([], delta_token="d3"), {}
        # the full resync returns everything again, plus one new message
        messages = [msg(1), msg(2)] if calls["initial"] == 1 else [msg(1), msg(2), msg(3)]
        return 200, page(messages, delta_token="d1" if calls["initial"] == 1 else "d2"), {}

    fake.on("GET", DELTA, initial)
    first = poll_instance(hub, "m365")
    assert first.received == 2 and first.error is None
    again = poll_instance(hub, "m365")  # d1 expired -> full resync in the same poll
    assert again.error is None and again.received == 1 and again.duplicates == 2
    drain(hub)
    assert inbox_count(hub) == 3
    with read(hub.engine) as conn:
        assert len(queries.search(conn)) == 3
        stored = state.load_cursor(conn, "m365")
    assert stored["links"][f"mail:{MAILBOX}:inbox"].endswith("d2") and stored["resyncs"] == {f"mail:{MAILBOX}:inbox": 1}


def test_automatic_mail_and_our_own_replies_make_no_tickets():
    def normalized(message):
        raw = mail.raw_event(MAILBOX, message)
        return mail.normalize(raw)

    def ignored(message) -> str:
        with pytest.raises(IgnoreRecord) as info:
            normalized(message)
        return str(info.value)

    header = lambda name, value: {"internetMessageHeaders": [{"name": name, "value": value}]}  # noqa: E731
    assert "Auto-Submitted: auto-replied" in ignored(msg(1, **header("Auto-Submitted", "auto-replied")))
    assert "Precedence: bulk" in ignored(msg(1, **header("Precedence", "bulk")))
    assert ignored(msg(1, **header("Content-Type", "multipart/report; report-type=delivery-status"))) == (
        "delivery status notification"
    )
    assert "out-of-office" in ignored(msg(1, subject="Automatic reply: away until Monday"))
    own = {"emailAddress": {"name": "Service Desk", "address": MAILBOX.upper()}}
    assert "(loop)" in ignored(msg(1, **{"from": own}))
    assert ignored(msg(1, isDraft=True)) == "draft"
    (event,) = normalized(msg(1, subject="RE: [REQ-2026-000042] pothole", **header("Auto-Submitted", "no")))
    assert event["ticket_number"] == "REQ-2026-000042"
    assert event["thread_refs"] == ["<m1@contoso.com>", f"m365conv:{MAILBOX}:conv1"]


def test_flag_changes_are_the_same_event_but_new_content_is_not():
    one = mail.raw_event(MAILBOX, msg(1))
    read_flag = mail.raw_event(MAILBOX, msg(1, isRead=True, **{"@odata.etag": 'W/"other"'}))
    edited = mail.raw_event(MAILBOX, msg(1, body={"contentType": "text", "content": "changed"}))
    assert one.dedup_key == read_flag.dedup_key != edited.dedup_key


def test_send_reply_is_idempotent(fake, make_connector):
    sent: list[str] = []

    def find(call, _match):
        marked = "HubIdempotencyKey" in call.query.get("$filter", "")
        value = [{"id": "draft-1", "isDraft": False}] if marked and sent else []
        return 200, {"value": value}, {}

    fake.on("GET", f"users/{MAILBOX}/messages", find)
    fake.on("POST", f"users/{MAILBOX}/messages/AAMk1/createReply", (201, {"id": "draft-1", "isDraft": True}, {}))
    fake.on("POST", f"users/{MAILBOX}/messages/draft-1/send", lambda call, m: sent.append("x") or (202, None, {}))
    connector = make_connector()
    payload = {"message_id": "AAMk1", "body": "We fixed the streetlight. REQ-2026-000001"}
    first = connector.run_action("send_reply", payload, "reply:1")
    assert first.data["changed"] is True
    (create,) = fake.made("POST", "createReply")
    assert create.body["comment"].startswith("We fixed")
    assert create.body["message"]["singleValueExtendedProperties"][0]["value"] == "reply:1"
    writes = len(fake.writes())
    second = connector.run_action("send_reply", payload, "reply:1")
    assert second.data["changed"] is False and len(fake.writes()) == writes


def test_send_reply_sends_a_draft_left_by_a_crash(fake, make_connector):
    fake.on("GET", f"users/{MAILBOX}/messages", (200, {"value": [{"id": "draft-7", "isDraft": True}]}, {}))
    fake.on("POST", f"users/{MAILBOX}/messages/draft-7/send", (202, None, {}))
    result = make_connector().run_action("send_reply", {"message_id": "AAMk1", "body": "Done."}, "reply:7")
    assert result.data["changed"] is True and fake.made("POST", "createReply") == []
    assert len(fake.made("POST", "draft-7/send")) == 1


def test_raw_body_is_the_message_as_graph_sent_it():
    raw = mail.raw_event(MAILBOX, msg(5))
    assert orjson.loads(raw.body)["internetMessageId"] == "<m5@contoso.com>"
    assert raw.headers == {"x-m365-kind": "mail", "x-m365-mailbox": MAILBOX}


def test_a_missing_folder_is_a_configuration_error_on_the_instance(fake, m365_hub):
    hub = m365_hub()
    missing = graph_error("ErrorItemNotFound", "The specified object was not found in the store.", 404)
    fake.on("GET", DELTA, (404, missing, {}))
    report = poll_instance(hub, "m365")
    assert report.error is not None and report.error.startswith("configuration: mail:")
    assert "ErrorItemNotFound" in report.error


def test_reply_through_the_outbox_is_recorded_on_the_ticket(fake, m365_hub):
    from hub.outbox.dispatcher import dispatch_due
    from hub.outbox.queue import enqueue
    from hub.store.db import write

    hub = m365_hub()
    quiet_teams(fake)
    serve_delta(fake, {None: page([msg(1)], delta_token="d1")})
    poll_instance(hub, "m365")
    drain(hub)
    with read(hub.engine) as conn:
        (ticket,) = queries.search(conn)
        target = queries.get(conn, ticket["number"])["attributes"]["m365_mail"]
    fake.on("GET", f"users/{MAILBOX}/messages", (200, {"value": []}, {}))
    fake.on("POST", f"users/{MAILBOX}/messages/AAMk1/createReply", (201, {"id": "draft-1", "isDraft": True}, {}))
    fake.on("POST", f"users/{MAILBOX}/messages/draft-1/send", (202, None, {}))
    with write(hub.engine) as conn:
        payload = {"message_id": target["message_id"], "body": f"Fixed. {ticket['number']}"}
        enqueue(
            conn,
            instance="m365",
            action="send_reply",
            payload=payload,
            idempotency_key="t1:reply",
            ticket_id=ticket["id"],
        )
    assert dispatch_due(hub).sent == 1
    with read(hub.engine) as conn:
        history = queries.history(conn, ticket["id"])
    assert any(
        h["action"] == "action_done" and h["field"] == "send_reply" and h["new"] == "reply sent" for h in history
    )
