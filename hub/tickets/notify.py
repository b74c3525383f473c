"""Requester updates, the end of the black hole: acknowledgement, assignment, public comments,
waiting on the requester, resolution (with the survey), on the channel the request came from.

The core decides *what* to say and queues it in the outbox in the ticket's transaction: a `notify`
action on the ticket's source instance when its connector declares one (payload:
schemas/notification.schema.json), and a signed `callback` webhook when the ticket carries a
callback URL. Connectors that cannot answer (files) get nothing. SLA alerts to a queue use the
same payload.
"""

from __future__ import annotations

import logging
import string
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, bindparam, select

from hub import clock
from hub.outbox.queue import enqueue
from hub.store import direct
from hub.store.tables import comments, inbox, tickets
from hub.tickets import rows, status_link
from hub.tickets.service import Change

if TYPE_CHECKING:
    from hub.runtime import Hub
    from hub.tickets.sla import Alert

log = logging.getLogger("hub.notify")
# Work the organisation does for itself (onboarding and its tasks, intake alerts): the person on
# such a ticket is its subject, not someone waiting for an answer.
INTERNAL_TYPES = frozenset({"onboarding", "offboarding", "transfer", "task", "alert"})

STATUS_LABELS = {
    "new": "Received",
    "triaged": "Received",
    "assigned": "Assigned",
    "in_progress": "In progress",
    "waiting_on_requester": "Waiting for your reply",
    "resolved": "Resolved",
    "closed": "Closed",
    "cancelled": "Cancelled",
}
MESSAGES = {
    "acknowledgement": "We received your request {number}: {title}. You can follow it at {status_url}",
    "duplicate": "We received your request {number}: {title}. It is the same issue as {duplicate_of}, "
    "which was reported earlier; we will let you know when it is fixed. Follow it at {status_url}",
    "assigned": "Your request {number} has been assigned to the {queue} team.",
    "comment": "New update on your request {number}:\n\n{comment}",
    "waiting": "We need more information to continue with your request {number}.\n\n{comment}\n\n"
    "Please reply to this message.",
    "resolved": "Your request {number} ({title}) has been resolved.\n\n{comment}\n\n"
    "How did we do? Rate us in one click: {survey_url}",
    "cancelled": "Your request {number} ({title}) has been cancelled.\n\n{comment}",
    "sla_warning": "{number} ({title}) in {queue} is close to its {metric} target (due {due_at}).",
    "sla_breach": "{number} ({title}) in {queue} has missed its {metric} target (due {due_at}).",
}
STATUS_KINDS = {"waiting_on_requester": "waiting", "resolved": "resolved", "cancelled": "cancelled"}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, values: dict[str, Any]) -> str:
    """str.format with unknown or missing fields left empty (admins write these templates)."""
    try:
        text = string.Formatter().vformat(template, (), _Blank(values))
    except (ValueError, IndexError, AttributeError, KeyError):
        text = template
    return "\n".join(line.rstrip() for line in text.splitlines()).replace("\n\n\n\n", "\n\n").strip()


def on_change(conn: Connection, hub: Hub, change: Change, now: datetime) -> None:
    desk = hub.config.desk
    if not desk.notifications.enabled:
        return
    row = rows.load(conn, change.ticket_id)
    if row is None or row.type in INTERNAL_TYPES:
        return
    kind, key, comment = _what(conn, change, row, now)
    if kind is None or kind not in desk.notifications.kinds:
        return
    send(conn, hub, row, kind, now, key=key, comment=comment)


def _what(conn: Connection, change: Change, row: Any, now: datetime) -> tuple[str | None, str, Any]:
    """Which requester update a change means: (kind or None, idempotency key, comment row)."""
    if change.action == "created":
        return ("acknowledgement" if row.status not in ("resolved", "closed", "cancelled") else None), "ack", None
    if change.action == "status":
        new = change.fields["status"][1]
        kind = STATUS_KINDS.get(new)
        return kind, f"{kind}:{row.version}", _note(conn, row.id, now) if kind else None
    if change.action == "updated" and "assignee" in change.fields:
        old, new = change.fields["assignee"]
        return ("assigned" if new and new != old else None), f"assigned:{row.version}", None
    if change.action == "commented" and change.public and not change.fields:
        found = change.comment
        announced = change.status_note and row.status in STATUS_KINDS  # the status update carries it
        if announced or _from_requester_side(conn, row, found):
            return None, "", None
        return "comment", f"comment:{found.id}", found
    return None, "", None


def _from_requester_side(conn: Connection, row: Any, comment: Any) -> bool:
    """A comment the requester side already has: written by a party of the ticket, or received
    through the ticket's own source (the source system shows it)."""
    author = str((comment.author or {}).get("email") or "").lower()
    if author and (author == (row.requester_email or "") or _subscribed(conn, row.id, author)):
        return True
    if comment.inbox_id is None:
        return False
    instance = getattr(comment, "via_instance", None) or (
        conn.execute(_INBOX_INSTANCE, {"inbox_id": comment.inbox_id}).scalar()
    )
    return instance == row.source_instance


def _subscribed(conn: Connection, ticket_id: int, address: str) -> bool:
    return any(s.address == address for s in rows.subscribers(conn, ticket_id))


# Built once: these run for nearly every change (bench/README.md).
_INBOX_INSTANCE = select(inbox.c.instance).where(inbox.c.id == bindparam("inbox_id"))


def _note(conn: Connection, ticket_id: int, now: datetime) -> Any:
    found = direct.records(conn, _PUBLIC_COMMENT_NOW, {"ticket_id": ticket_id, "at": now})
    return found[0] if found else None


_PUBLIC_COMMENT_NOW = (
    select(comments)
    .where(
        and_(
            comments.c.ticket_id == bindparam("ticket_id"),
            comments.c.at == bindparam("at"),
            comments.c.public.is_(True),
        )
    )
    .order_by(comments.c.id.desc())
    .limit(1)
)


def recipients(conn: Connection, row: Any, kind: str) -> list[dict[str, Any]]:
    """The requester first, then subscribers. When an original is resolved, the reporters of its
    duplicates hear it through their own tickets, so they are left out here."""
    subs = rows.subscribers(conn, row.id)
    out = [{"address": s.address, "name": s.name, "channel": s.channel, "role": s.role} for s in subs]
    requester = row.requester or {}
    if not any(r["role"] == "requester" for r in out) and (requester.get("phone") or requester.get("email")):
        address = requester.get("email") or requester.get("phone")
        out.insert(0, {"address": address, "name": requester.get("name"), "channel": row.channel, "role": "requester"})
    out.sort(key=lambda r: r["role"] != "requester")
    if kind == "resolved":
        reporters = conn.execute(select(tickets.c.requester_email).where(tickets.c.duplicate_of_id == row.id)).scalars()
        skip = {r for r in reporters if r}
        out = [r for r in out if r["role"] == "requester" or r["address"] not in skip]
    return out


def payload(
    conn: Connection,
    hub: Hub,
    row: Any,
    kind: str,
    now: datetime,
    *,
    key: str,
    comment: Any = None,
    audience: str = "requester",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The notification document (schemas/notification.schema.json)."""
    desk = hub.config.desk
    duplicate_of = None
    if row.duplicate_of_id:
        duplicate_of = conn.execute(select(tickets.c.number).where(tickets.c.id == row.duplicate_of_id)).scalar()
    status_url = status_link.status_url(desk, row.id)
    survey_url = status_link.survey_url(desk, row.id) if kind == "resolved" and desk.survey_enabled else None
    source = row.source or {}
    refs = list(source.get("thread_refs") or [])
    values = {
        "number": row.number,
        "title": row.title,
        "status": STATUS_LABELS.get(row.status, row.status),
        "queue": row.queue or "service desk",
        "status_url": status_url,
        "survey_url": survey_url or "",
        "comment": comment.body if comment is not None else "",
        "duplicate_of": duplicate_of or "",
        **(extra or {}),
    }
    template_kind = "duplicate" if kind == "acknowledgement" and duplicate_of else kind
    template = desk.notifications.messages.get(template_kind) or MESSAGES[template_kind]
    return {
        "id": key,
        "kind": kind,
        "audience": audience,
        "occurred_at": clock.isoformat(now),
        "ticket": {
            "id": row.id,
            "number": row.number,
            "title": row.title,
            "status": row.status,
            "status_label": STATUS_LABELS.get(row.status, row.status),
            "priority": row.priority,
            "queue": row.queue,
            "category": row.category,
            "channel": row.channel,
            "created_at": clock.isoformat(row.created_at),
            "duplicate_of": duplicate_of,
        },
        "message": render(template, values) or f"Update on {row.number}",
        "status_url": status_url if audience == "requester" else None,
        "survey_url": survey_url,
        "comment": _comment_doc(comment),
        "recipients": recipients(conn, row, kind) if audience == "requester" else [],
        "source": {
            "instance": row.source_instance,
            "external_id": source.get("external_id"),
            "external_url": source.get("external_url"),
        },
        "thread_refs": refs,
        "in_reply_to": refs[-1] if refs else None,
    }


def _comment_doc(comment: Any) -> dict[str, Any] | None:
    if comment is None:
        return None
    return {
        "id": comment.id,
        "body": comment.body,
        "body_html": comment.body_html,
        "author_name": (comment.author or {}).get("name"),
        "at": clock.isoformat(comment.at),
    }


def has_action(hub: Hub, instance: str, action: str) -> bool:
    try:
        return action in type(hub.connector(instance)).action_names()
    except LookupError:  # e.g. tickets made through the API, or an instance removed from the config
        return False


def answers_itself(hub: Hub, instance: str) -> bool:
    """A connector with its own answering policy (Connector.follow_up, e.g. the email connector's
    threaded replies) is not sent the core's `notify` updates as well: the requester would hear
    everything twice."""
    from hub.sdk.connector import Connector

    try:
        return type(hub.connector(instance)).follow_up is not Connector.follow_up
    except LookupError:
        return False


def send(conn: Connection, hub: Hub, row: Any, kind: str, now: datetime, *, key: str, comment: Any = None) -> None:
    """Queue the update on the source channel and, if the ticket asked for one, its callback."""
    base = f"notify:{row.id}:{key}"
    to_source = has_action(hub, row.source_instance, "notify") and not answers_itself(hub, row.source_instance)
    urls = callback_urls(conn, row)
    if not to_source and not urls:
        return  # nobody to tell: the document is not worth building
    doc = payload(conn, hub, row, kind, now, key=base, comment=comment)
    if to_source:
        source = row.source_instance
        enqueue(conn, instance=source, action="notify", payload=doc, idempotency_key=base, ticket_id=row.id)
    for url in urls:
        _callback(conn, hub, row, {**doc, "id": f"callback:{row.id}:{key}:{url}"[:300]}, url)


def callback_urls(conn: Connection, row: Any) -> list[str]:
    """attributes.callback_url, and subscribers on the webhook channel whose address is a URL."""
    given = (row.attributes or {}).get("callback_url")
    urls: list[str] = []
    hooks = [s.address for s in rows.subscribers(conn, row.id) if s.channel == "webhook"]
    for url in [given, *hooks]:
        if isinstance(url, str) and url.lower().startswith(("http://", "https://")) and url not in urls:
            urls.append(url)
    return urls


def _callback(conn: Connection, hub: Hub, row: Any, doc: dict[str, Any], url: str) -> None:
    instance = hub.config.desk.notifications.callback_instance
    if instance is None and has_action(hub, row.source_instance, "callback"):
        instance = row.source_instance
    if instance is None:
        log.warning("ticket %s asks for callbacks but desk.notifications.callback_instance is not set", row.number)
        return
    enqueue(
        conn,
        instance=instance,
        action="callback",
        payload={**doc, "callback_url": url},
        idempotency_key=doc["id"],
        ticket_id=row.id,
    )


def queue_alert(conn: Connection, hub: Hub, row: Any, alert: Alert, sla: dict[str, Any], now: datetime) -> None:
    """An SLA warning or breach to the people of the ticket's queue (routing file: queues.*.notify)."""
    settings = hub.config.desk.queues.get(row.queue or "")
    target = settings.notify if settings else None
    if not target:
        return
    key = f"{alert.kind}:{row.id}:{alert.metric}:{sla.get('reopened', 0)}"
    extra = {"metric": alert.metric.replace("_", " "), "due_at": alert.due_at or ""}
    doc = payload(conn, hub, row, alert.kind, now, key=key, audience="queue", extra=extra)
    doc["recipients"] = [{"address": a, "role": "queue"} for a in target.get("to", [])]
    doc["sla"] = {"policy": sla.get("policy"), "metric": alert.metric, "due_at": alert.due_at, "used": alert.used}
    if target.get("instance"):
        enqueue(conn, instance=target["instance"], action="notify", payload=doc, idempotency_key=key, ticket_id=row.id)
    elif target.get("url"):
        _callback(conn, hub, row, doc, target["url"])
