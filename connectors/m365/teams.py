"""Teams channels: a new thread is a ticket, a reply in the thread is a comment on it.

Channel delta returns root messages only; with $expand=replies each changed thread comes with its
replies, and a new reply marks its thread changed. https://learn.microsoft.com/graph/api/chatmessage-delta
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

import orjson

from connectors.m365.delta import Source
from connectors.m365.graph import GraphClient, seg
from connectors.m365.permissions import CHANNEL_READ, CHANNEL_REPLY
from hub.sdk import ActionResult, RawEvent, SkipRecord

TAG = re.compile(r"<[^>]+>")
BREAK = re.compile(r"<br\s*/?>|</p>|</div>", re.I)


def source(channel: dict[str, Any], own_app: str) -> Source:
    team, chan = channel["team_id"], channel["channel_id"]
    params = {"$expand": "replies", "$top": "50"}
    if channel.get("since"):
        params["$filter"] = f"lastModifiedDateTime gt {channel['since']}"
    return Source(
        key=f"teams:{team}:{chan}",
        url=f"teams/{seg(team)}/channels/{seg(chan)}/messages/delta",
        needs=CHANNEL_READ,
        params=params,
        to_events=lambda items: [e for item in items for e in raw_events(item, own_app)],
    )


def thread_ref(channel_id: str, root_id: str) -> str:
    return f"teams:{channel_id}:{root_id}"


def raw_events(root: dict[str, Any], own_app: str) -> list[RawEvent]:
    """The root and each reply as their own events. A root is keyed by its content (an edit
    updates the ticket); a reply by its id alone (an edit must not add a second comment)."""
    events = []
    replies = root.pop("replies", None) or []
    if _wanted(root, own_app):
        digest = hashlib.sha256(
            orjson.dumps([root.get("subject"), (root.get("body") or {}).get("content")])
        ).hexdigest()
        events.append(RawEvent(f"teams:{root['id']}:{digest[:24]}", orjson.dumps(root), {"x-m365-kind": "teams"}))
    for reply in replies:
        if _wanted(reply, own_app):
            events.append(RawEvent(f"teams-reply:{reply['id']}", orjson.dumps(reply), {"x-m365-kind": "teams"}))
    return events


def _wanted(message: dict[str, Any], own_app: str) -> bool:
    """People's messages only: not system events, deletions, or what this app posted itself."""
    app = ((message.get("from") or {}).get("application") or {}).get("id")
    return message.get("messageType") == "message" and not message.get("deletedDateTime") and app != own_app


def text_of(body: dict[str, Any]) -> str:
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        content = html.unescape(TAG.sub("", BREAK.sub("\n", content)))
    return content.strip()


def normalize(raw: RawEvent) -> list[dict[str, Any]]:
    message = orjson.loads(raw.body)
    where = message.get("channelIdentity") or {}
    channel_id = where.get("channelId", "")
    user = (message.get("from") or {}).get("user") or {}
    author = {"name": user.get("displayName"), "employee_id": None, "kind": "employee"}
    text = text_of(message.get("body") or {}) or "(empty message)"
    occurred = message.get("createdDateTime")
    if message.get("replyToId"):
        event: dict[str, Any] = {
            "type": "ticket.comment",
            "in_reply_to": [thread_ref(channel_id, message["replyToId"])],
            "data": {"body": text, "public": True, "author": author},
        }
    else:
        body = message.get("body") or {}
        event = {
            "type": "ticket.create",
            "external_id": thread_ref(channel_id, message["id"]),
            "thread_refs": [thread_ref(channel_id, message["id"])],
            "data": {
                "title": (message.get("subject") or text.splitlines()[0])[:200],
                "description": text,
                "description_html": body.get("content") if str(body.get("contentType")).lower() == "html" else None,
                "channel": "teams",
                "requester": author,
                "external_url": message.get("webUrl"),
                "attributes": {
                    "teams": {
                        "team_id": where.get("teamId"),
                        "channel_id": channel_id,
                        "message_id": message["id"],
                        "user_id": user.get("id"),
                    }
                },
            },
        }
    if occurred:
        event["occurred_at"] = occurred
    event["actor"] = {"name": user.get("displayName"), "kind": "employee"}
    return [event]


def reply_in_thread(graph: GraphClient, payload: dict[str, Any], key: str) -> ActionResult:
    """Post a reply. Idempotent: the reply ends with a short reference derived from the outbox
    key; a retry that finds it among the thread's replies posts nothing."""
    try:
        team, channel, root = payload["team_id"], payload["channel_id"], payload["message_id"]
    except KeyError as exc:
        raise SkipRecord(f"reply_in_thread needs {exc.args[0]}") from None
    text = str(payload.get("body") or "").strip()
    if not text:
        raise SkipRecord("reply_in_thread needs a non-empty body")
    ref = "ref " + hashlib.sha256(key.encode()).hexdigest()[:10]
    path = f"teams/{seg(team)}/channels/{seg(channel)}/messages/{seg(root)}/replies"
    for reply in graph.items(path, needs=CHANNEL_READ):
        if ref in str((reply.get("body") or {}).get("content") or ""):
            return ActionResult("reply already posted", {"changed": False, "reply_id": reply.get("id")})
    content = html.escape(text).replace("\n", "<br>") + f"<br><small>{ref}</small>"
    posted = graph.json("POST", path, needs=CHANNEL_REPLY, json={"body": {"contentType": "html", "content": content}})
    return ActionResult("reply posted in the Teams thread", {"changed": True, "reply_id": posted.get("id")})
