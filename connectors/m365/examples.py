"""Sample Graph payloads in the documented shapes (message delta, chatMessage delta): the contract
suite runs them through normalize(), and the tests build their fake Graph from them."""

from __future__ import annotations

import copy
from typing import Any

from hub.sdk import RawEvent

MAILBOX = "servicedesk@contoso.gov"
TEAM = "fbe2bf47-16c8-47cf-b4a5-4b9b187c508b"
CHANNEL = "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2"

MAIL_MESSAGE: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.message",
    "@odata.etag": 'W/"CQAAABYAAAARn2vdzPFjSbaPPxzjlzOTAAASsKZz"',
    "id": "AAMkADNkNAAASq35xAAA=",
    "internetMessageId": "<BN6PR01MB1234@prod.outlook.com>",
    "conversationId": "AAQkADNkNGVhOTYxLWI0ZjItNDM3YS1hZDk4LWFjZTU1NDY0ZWZmYwAQAOS",
    "subject": "Streetlight out on Elm St",
    "receivedDateTime": "2026-11-27T14:05:00Z",
    "isDraft": False,
    "hasAttachments": False,
    "body": {"contentType": "text", "content": "The streetlight at 12 Elm St has been out for three nights."},
    "from": {"emailAddress": {"name": "Dana Swope", "address": "danas@contoso.com"}},
    "sender": {"emailAddress": {"name": "Dana Swope", "address": "danas@contoso.com"}},
    "toRecipients": [{"emailAddress": {"name": "Service Desk", "address": MAILBOX}}],
    "internetMessageHeaders": [
        {"name": "Message-ID", "value": "<BN6PR01MB1234@prod.outlook.com>"},
        {"name": "Content-Type", "value": "text/plain; charset=utf-8"},
    ],
}

CHANNEL_MESSAGE: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.chatMessage",
    "replyToId": None,
    "etag": "1606515483514",
    "messageType": "message",
    "createdDateTime": "2026-11-27T22:18:03.514Z",
    "lastModifiedDateTime": "2026-11-27T22:18:03.514Z",
    "deletedDateTime": None,
    "subject": "VPN down in the clerk's office",
    "importance": "normal",
    "webUrl": f"https://teams.microsoft.com/l/message/{CHANNEL}/1606515483514",
    "id": "1606515483514",
    "from": {
        "application": None,
        "device": None,
        "user": {
            "@odata.type": "#microsoft.graph.teamworkUserIdentity",
            "id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2",
            "displayName": "Robin Kline",
            "userIdentityType": "aadUser",
        },
    },
    "body": {"contentType": "html", "content": "<p>Nobody can connect to the VPN since 9:00.</p>"},
    "channelIdentity": {"teamId": TEAM, "channelId": CHANNEL},
    "attachments": [],
    "mentions": [],
    "reactions": [],
}


def mail_message(**changes: Any) -> dict[str, Any]:
    message = copy.deepcopy(MAIL_MESSAGE)
    message.update(changes)
    return message


def channel_message(**changes: Any) -> dict[str, Any]:
    message = copy.deepcopy(CHANNEL_MESSAGE)
    message.update(changes)
    return message


def settings() -> dict[str, Any]:
    return {
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "24d3b144-21ae-4080-943f-7067b395b913",
        "client_secret": "not-a-real-secret",
        "mail": {"mailbox": MAILBOX},
        "teams": {"channels": [{"team_id": TEAM, "channel_id": CHANNEL}]},
    }


def EXAMPLES() -> list[tuple[dict[str, Any], list[RawEvent]]]:
    from connectors.m365 import mail, teams

    raws = [mail.raw_event(MAILBOX, mail_message()), *teams.raw_events(channel_message(), "own-app")]
    return [({"settings": settings()}, [r for r in raws if r is not None])]
