"""A shared mailbox folder: delta intake, normalization like email, and replies.

Threading: a message is known by its Message-ID and its Exchange conversation; a later message
naming either (In-Reply-To, References, same conversationId) lands on the same ticket. Our own
replies and automatic mail (RFC 3834 Auto-Submitted, Precedence bulk/junk/list, delivery reports)
never become tickets, so two auto-responders cannot loop through the hub.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from connectors.email.noise import automatic_reason
from connectors.m365.delta import Source
from connectors.m365.graph import GraphClient, seg
from connectors.m365.permissions import MAIL_READ, MAIL_SEND
from hub.sdk import ActionResult, IgnoreRecord, RawEvent, SkipRecord

SELECT = (
    "id,internetMessageId,conversationId,subject,body,from,sender,toRecipients,ccRecipients,replyTo,"
    "receivedDateTime,internetMessageHeaders,isDraft,hasAttachments,webLink"
)
# A named MAPI property marking the replies we send with the outbox idempotency key, so a retried
# action finds the reply it already sent. https://learn.microsoft.com/graph/api/resources/extended-properties-overview
IDEMPOTENCY_PROP = "String {6a1c5e0e-8f3b-4c38-9d41-6f1b2d9e7a15} Name HubIdempotencyKey"
TICKET_NUMBER = re.compile(r"\b([A-Z]{2,6}-\d{4}-\d{4,})\b")
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def source(settings: dict[str, Any]) -> Source:
    mail = settings["mail"]
    mailbox, folder = mail["mailbox"], mail.get("folder", "inbox")
    params = {"$select": SELECT}
    if mail.get("since"):
        params["$filter"] = f"receivedDateTime ge {mail['since']}"
    return Source(
        key=f"mail:{mailbox}:{folder}",
        url=f"users/{seg(mailbox)}/mailFolders/{seg(folder)}/messages/delta",
        needs=MAIL_READ,
        params=params,
        # plain-text bodies; page size per the delta docs' optional Prefer header
        headers={"Prefer": 'outlook.body-content-type="text", odata.maxpagesize=50'},
        to_events=lambda items: [e for item in items if (e := raw_event(mailbox, item))],
    )


def raw_event(mailbox: str, message: dict[str, Any]) -> RawEvent | None:
    """Key: Message-ID + a hash of what the sender wrote. A message seen again after a resync, or
    updated only in its flags (read, categories), is the same event."""
    if "@removed" in message:
        return None
    content = [message.get("subject"), (message.get("body") or {}).get("content"), _address(message.get("from"))]
    digest = hashlib.sha256(orjson.dumps(content)).hexdigest()[:24]
    ident = message.get("internetMessageId") or message.get("id")
    return RawEvent(f"mail:{ident}:{digest}", orjson.dumps(message), {"x-m365-kind": "mail", "x-m365-mailbox": mailbox})


def _address(party: Any) -> str:
    return str(((party or {}).get("emailAddress") or {}).get("address") or "").lower()


def _headers(message: dict[str, Any]) -> dict[str, str]:
    return {
        str(h.get("name", "")).lower(): str(h.get("value", "")) for h in message.get("internetMessageHeaders") or []
    }


def is_automatic(message: dict[str, Any], mailbox: str) -> str | None:
    """Why this message must not reach the tickets, or None (the email connector's checks, on the
    headers Graph returns)."""
    if message.get("isDraft"):
        return "draft"
    headers = _headers(message)
    return automatic_reason(
        lambda name: headers.get(name.lower(), ""),
        str(message.get("subject") or ""),
        _address(message.get("from")) or None,
        {mailbox.lower()},
    )


def normalize(raw: RawEvent) -> list[dict[str, Any]]:
    message = orjson.loads(raw.body)
    mailbox = raw.headers.get("x-m365-mailbox", "")
    reason = is_automatic(message, mailbox)
    if reason:
        raise IgnoreRecord(reason)
    headers = _headers(message)
    own = message.get("internetMessageId")
    conversation = f"m365conv:{mailbox.lower()}:{message['conversationId']}" if message.get("conversationId") else None
    answers = MESSAGE_ID.findall(headers.get("in-reply-to", "") + " " + headers.get("references", ""))
    sender = (message.get("from") or {}).get("emailAddress") or {}
    email = sender.get("address") if "@" in str(sender.get("address") or "") else None
    subject = (message.get("subject") or "").strip()
    body = (message.get("body") or {}).get("content") or ""
    event: dict[str, Any] = {
        "type": "ticket.create",
        "thread_refs": [r for r in (own, conversation) if r],
        "in_reply_to": [r for r in dict.fromkeys([*answers, conversation]) if r and r != own],
        "actor": {"email": email, "name": sender.get("name")},
        "data": {
            "title": subject[:500] or "(no subject)",
            "description": body.strip(),
            "channel": "m365_mail",
            "requester": {"name": sender.get("name"), "email": email, "kind": "unknown"},
            "attributes": {
                "m365_mail": {
                    "mailbox": mailbox,
                    "message_id": message.get("id"),
                    "internet_message_id": own,
                    "conversation_id": message.get("conversationId"),
                    "has_attachments": bool(message.get("hasAttachments")),
                }
            },
        },
    }
    if message.get("receivedDateTime"):
        event["occurred_at"] = message["receivedDateTime"]
    number = TICKET_NUMBER.search(subject)
    if number:
        event["ticket_number"] = number.group(1)
    return [event]


def send_reply(graph: GraphClient, mailbox: str, payload: dict[str, Any], key: str) -> ActionResult:
    """Reply to a message of the thread. Idempotent: the reply carries the outbox key in an
    extended property; a retry finds it (sent: nothing to do; still a draft: send it)."""
    text = str(payload.get("body") or "").strip()
    if not text:
        raise SkipRecord("send_reply needs a non-empty body")
    base = f"users/{seg(mailbox)}/messages"
    marker = key.replace("'", "''")
    found = list(
        graph.items(
            base,
            needs=MAIL_READ,
            params={
                "$filter": (
                    f"singleValueExtendedProperties/Any(ep: ep/id eq '{IDEMPOTENCY_PROP}' and ep/value eq '{marker}')"
                ),
                "$select": "id,isDraft",
            },
        )
    )
    sent = [m for m in found if not m.get("isDraft")]
    if sent:
        return ActionResult("reply already sent", {"changed": False, "message_id": sent[0]["id"]})
    if found:
        draft_id = found[0]["id"]
    else:
        message_id = payload.get("message_id") or _lookup(graph, base, payload)
        draft = graph.json(
            "POST",
            f"{base}/{seg(message_id)}/createReply",
            needs=MAIL_SEND,
            json={
                "comment": text,
                "message": {"singleValueExtendedProperties": [{"id": IDEMPOTENCY_PROP, "value": key}]},
            },
        )
        draft_id = draft["id"]
    graph.call("POST", f"{base}/{seg(draft_id)}/send", needs=MAIL_SEND)
    return ActionResult("reply sent", {"changed": True, "message_id": draft_id})


def _lookup(graph: GraphClient, base: str, payload: dict[str, Any]) -> str:
    wanted = payload.get("internet_message_id")
    if not wanted:
        raise SkipRecord("send_reply needs message_id or internet_message_id")
    quoted = str(wanted).replace("'", "''")
    for item in graph.items(
        base, needs=MAIL_READ, params={"$filter": f"internetMessageId eq '{quoted}'", "$select": "id"}
    ):
        return str(item["id"])
    raise SkipRecord(f"no message {wanted} in the mailbox to reply to")


def send_mail(graph: GraphClient, sender: str, to: str, subject: str, text: str) -> None:
    """A message that must not stay in the sender's Sent Items (temporary passwords)."""
    message = {
        "subject": subject,
        "body": {"contentType": "Text", "content": text},
        "toRecipients": [{"emailAddress": {"address": to}}],
    }
    graph.call(
        "POST", f"users/{seg(sender)}/sendMail", needs=MAIL_SEND, json={"message": message, "saveToSentItems": False}
    )
