"""Which mails a ticket change causes (pure): an acknowledgement for a new ticket, agents'
public comments, and chosen status changes, to the requester with the other subscribers in Cc.

Never mailed: the instance's own addresses and no-reply style addresses (a mail to those can
only bounce or loop), and comments that came in by mail themselves (the writer has them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectors.email import compose
from connectors.email.templates import Templates
from hub import clock
from hub.sdk import Outbound, TicketChange

NO_REPLY = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?)([+-].*)?@", re.IGNORECASE
)


@dataclass
class ReplyConfig:
    instance: str
    address: str
    display_name: str
    own_addresses: set[str]
    transport: str = "none"
    acknowledge: bool = True
    comments: bool = True
    statuses: set[str] = field(default_factory=set)


def deliverable(address: str | None, own: set[str]) -> bool:
    return (
        bool(address) and "@" in str(address) and str(address).lower() not in own and not NO_REPLY.match(str(address))
    )


def plan(change: TicketChange, cfg: ReplyConfig, templates: Templates) -> list[Outbound]:
    if cfg.transport == "none":
        return []
    ticket = change.ticket
    if change.action == "created" and cfg.acknowledge:
        return _mail(cfg, templates, change, "acknowledgement", f"ack:{ticket['id']}", "auto-replied", {})
    if change.action == "commented" and cfg.comments:
        comment = change.comment or {}
        if not comment.get("public") or comment.get("from_source"):
            return []
        author = (comment.get("author") or {}).get("email")
        return _mail(cfg, templates, change, "comment", f"comment:{comment['id']}", None, {"comment": comment}, author)
    if change.action == "status" and "status" in change.fields:
        new = change.fields["status"][1]
        if new not in cfg.statuses:
            return []
        extra = {"status": new, "status_label": compose.STATUS_LABELS.get(new, new)}
        key = f"status:{ticket['id']}:{change.version}"
        return _mail(cfg, templates, change, "status", key, "auto-generated", extra)
    return []


def _mail(
    cfg: ReplyConfig,
    templates: Templates,
    change: TicketChange,
    kind: str,
    key: str,
    auto: str | None,
    extra: dict[str, Any],
    author: str | None = None,
) -> list[Outbound]:
    ticket = change.ticket
    requester = (ticket.get("requester") or {}).get("email")
    to = [requester] if deliverable(requester, cfg.own_addresses) and requester != author else []
    cc = [
        s["address"]
        for s in ticket.get("subscribers") or []
        if s.get("role") != "requester"
        and s.get("channel") in (None, "email")
        and deliverable(s["address"], cfg.own_addresses)
        and s["address"] not in (requester, author)
    ]
    if not to and not cc:
        return []
    if not to:
        to, cc = cc[:1], cc[1:]
    sender = {"address": cfg.address, "name": cfg.display_name}
    rendered = templates.render(kind, {"ticket": ticket, "sender": sender, "kind": kind, **extra})
    message_id = compose.message_id(f"{cfg.instance}:{key}", cfg.address)
    refs = list(change.thread_refs)
    payload = {
        "kind": kind,
        "from": sender,
        "to": to,
        "cc": cc,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "message_id": message_id,
        "in_reply_to": refs[-1] if refs else None,
        "references": refs[-10:],
        "auto_submitted": auto,
        "date": clock.isoformat(change.at),
        "ticket": ticket["number"],
    }
    return [Outbound("send_reply", payload, key, thread_refs=(message_id,))]
