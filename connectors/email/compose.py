"""Outgoing mail: the payload queued in the outbox (everything decided when the ticket changed)
and the RFC 5322 message built from it when it is sent.

The Message-ID is derived from the outbox idempotency key, so a retried send carries the same id
(receiving clients collapse duplicates), and it is recorded as a thread ref before sending, so
any reply to it, or a bounce quoting it, finds the ticket."""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import Any

from hub import clock

STATUS_LABELS = {
    "new": "Received",
    "triaged": "Received",
    "assigned": "Assigned",
    "in_progress": "In progress",
    "waiting_on_requester": "Waiting for your answer",
    "resolved": "Resolved",
    "closed": "Closed",
    "cancelled": "Cancelled",
}


def message_id(key: str, address: str) -> str:
    domain = address.rsplit("@", 1)[-1]
    return f"<hub.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def own_id_pattern(addresses: set[str]) -> re.Pattern[str]:
    """Matches Message-IDs this hub made for any of these addresses' domains."""
    domains = "|".join(sorted(re.escape(a.rsplit("@", 1)[-1]) for a in addresses))
    return re.compile(rf"<hub\.[0-9a-f]{{32}}@(?:{domains})>", re.IGNORECASE)


def build(payload: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    sender = payload["from"]
    msg["From"] = formataddr((sender.get("name") or "", sender["address"]))
    msg["To"] = ", ".join(payload["to"])
    if payload.get("cc"):
        msg["Cc"] = ", ".join(payload["cc"])
    msg["Subject"] = payload["subject"]
    msg["Date"] = format_datetime(clock.parse(payload["date"]))
    msg["Message-ID"] = payload["message_id"]
    if payload.get("in_reply_to"):
        msg["In-Reply-To"] = payload["in_reply_to"]
    if payload.get("references"):
        msg["References"] = " ".join(payload["references"])
    if payload.get("auto_submitted"):
        # RFC 3834: automatic mail says so, and Exchange is asked not to answer it with an OOF.
        msg["Auto-Submitted"] = payload["auto_submitted"]
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(payload["text"])
    if payload.get("html"):
        msg.add_alternative(payload["html"], subtype="html")
    return msg
