"""Teams channels: a thread is a ticket, a reply in it a comment on that ticket, end to end."""

from __future__ import annotations

from connectors.m365 import teams
from connectors.m365.examples import CHANNEL, TEAM, channel_message
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain
from hub.store.db import read
from hub.tickets import queries
from tests.connectors.m365.conftest import GRAPH
from tests.connectors.m365.test_mail import DELTA as MAIL_DELTA
from tests.connectors.m365.test_mail import LINK as MAIL_LINK

TEAMS_DELTA = f"teams/{TEAM}/channels/{CHANNEL}/messages/delta"
OWN_APP = "24d3b144-21ae-4080-943f-7067b395b913"


def reply(n: int, text: str, **changes):
    return channel_message(
        id=f"r{n}", replyToId="1606515483514", subject=None, body={"contentType": "html", "content": text}, **changes
    )


def delta_page(messages, token):
    return {
        "@odata.context": f"{GRAPH}/$metadata#Collection(chatMessage)",
        "value": messages,
        "@odata.deltaLink": f"{GRAPH}/{TEAMS_DELTA}?$deltatoken={token}",
    }


def test_thread_becomes_ticket_and_replies_comments(fake, m365_hub):
    hub = m365_hub()
    fake.on("GET", MAIL_DELTA, (200, {"value": [], "@odata.deltaLink": f"{MAIL_LINK}?$deltatoken=m"}, {}))
    bot = {"application": {"id": OWN_APP, "displayName": "Service desk"}, "user": None}
    first = channel_message(replies=[reply(1, "<p>Still down for me &amp; Sam</p>")])
    later = channel_message(
        replies=[
            reply(1, "<p>Still down for me &amp; Sam</p>", lastEditedDateTime="2026-11-27T23:00:00Z"),  # edited
            reply(2, "<div>Back up now<br>thanks</div>"),
            reply(3, "<p>We are on it. ref 12ab</p>", **{"from": bot}),  # posted by the hub itself
            reply(4, "", messageType="systemEventMessage"),
        ]
    )
    pages = {None: delta_page([first], "t1"), "t1": delta_page([later], "t2")}
    fake.on("GET", TEAMS_DELTA, lambda call, m: (200, pages[call.query.get("$deltatoken")], {}))
    assert poll_instance(hub, "m365").received == 2
    drain(hub)
    report = poll_instance(hub, "m365")
    assert report.received == 1 and report.duplicates == 2  # unchanged root, edited reply 1
    drain(hub)
    with read(hub.engine) as conn:
        (ticket,) = queries.search(conn)
        doc = queries.get(conn, ticket["number"])
        comments = [c["body"] for c in queries.comment_list(conn, ticket["id"])]
    assert ticket["title"] == "VPN down in the clerk's office" and ticket["channel"] == "teams"
    assert doc["description"] == "Nobody can connect to the VPN since 9:00."
    assert doc["attributes"]["teams"] == {
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "message_id": "1606515483514",
        "user_id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2",
    }
    assert comments == ["Still down for me & Sam", "Back up now\nthanks"]
    first_call = fake.made("GET", "messages/delta")
    assert any(c.query.get("$expand") == "replies" for c in first_call)


def test_reply_to_an_unknown_thread_is_a_comment_event_naming_it():
    (event,) = teams.normalize(teams.raw_events(channel_message(replies=[reply(9, "hi")]), OWN_APP)[1])
    assert event["type"] == "ticket.comment" and event["in_reply_to"] == [f"teams:{CHANNEL}:1606515483514"]


def test_reply_in_thread_is_idempotent(fake, make_connector):
    posted: list[dict] = []
    path = f"teams/{TEAM}/channels/{CHANNEL}/messages/1606515483514/replies"
    fake.on("GET", path, lambda call, m: (200, {"value": list(posted)}, {}))

    def post(call, _match):
        message = {"id": f"p{len(posted)}", "replyToId": "1606515483514", "body": call.body["body"]}
        posted.append(message)
        return 201, message, {}

    fake.on("POST", path, post)
    connector = make_connector()
    payload = {"team_id": TEAM, "channel_id": CHANNEL, "message_id": "1606515483514", "body": "Fixed <VPN> & done"}
    first = connector.run_action("reply_in_thread", payload, "teams:1")
    second = connector.run_action("reply_in_thread", payload, "teams:1")
    assert first.data["changed"] is True and second.data["changed"] is False
    assert len(posted) == 1 and posted[0]["body"]["content"].startswith("Fixed &lt;VPN&gt; &amp; done")
    assert connector.run_action("reply_in_thread", payload, "teams:2").data["changed"] is True  # another update


def test_reply_in_thread_without_permission_says_which(fake, make_connector):
    path = f"teams/{TEAM}/channels/{CHANNEL}/messages/1/replies"
    fake.on("GET", path, (200, {"value": []}, {}))
    denied = {"error": {"code": "Forbidden", "message": "Missing role permissions on the request."}}
    fake.on("POST", path, (403, denied, {}))
    payload = {"team_id": TEAM, "channel_id": CHANNEL, "message_id": "1", "body": "x"}
    import pytest

    from hub.sdk import FatalError

    with pytest.raises(FatalError, match=r"Teamwork\.Migrate\.All"):
        make_connector().run_action("reply_in_thread", payload, "k")
