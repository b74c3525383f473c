"""One received mail -> canonical events: who wrote, which conversation it belongs to, where it
is routed, what the person wrote and what they attached. Auto-replies and bounces never get
here as ticket events (see noise.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectors.email import htmltext, trim
from connectors.email.parse import Address, ParsedMail
from connectors.email.store import AttachmentStore
from hub import clock

TICKET_NUMBER = re.compile(r"\[([A-Z]{2,6}-[0-9]{4}-[0-9]{6,})\]")
MAX_TITLE = 500


@dataclass
class Routing:
    """The parts of the settings that decide a mail's ticket fields."""

    own_addresses: set[str]
    employee_domains: set[str] = field(default_factory=set)
    employee_fields: dict[str, Any] = field(default_factory=dict)
    citizen_fields: dict[str, Any] = field(default_factory=dict)
    accept_citizens: bool = True
    subscribe_cc: bool = True
    folder_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def is_employee(self, address: str) -> bool:
        domain = address.rsplit("@", 1)[-1]
        return any(domain == d or domain.endswith("." + d) for d in self.employee_domains)

    def fields_for(self, mail: ParsedMail, folder: str, employee: bool) -> dict[str, Any]:
        fields: dict[str, Any] = dict(self.folder_fields.get(folder, {}))
        recipients = {a.email for a in [*mail.to, *mail.cc]} | _delivered_to(mail)
        for address, route in self.routes:
            if address in recipients:
                fields.update(route)
                break
        return {**(self.employee_fields if employee else self.citizen_fields), **fields}


def _delivered_to(mail: ParsedMail) -> set[str]:
    found = set()
    for name in ("Delivered-To", "X-Original-To", "Envelope-To"):
        for value in mail.message.get_all(name) or []:
            found.add(str(value).strip().strip("<>").lower())
    return found


def strip_number(subject: str) -> str:
    return re.sub(r"\s+", " ", TICKET_NUMBER.sub("", subject)).strip()


def ticket_event(mail: ParsedMail, *, folder: str, routing: Routing, store: AttachmentStore) -> dict[str, Any]:
    """A `ticket.create` the core turns into a comment when the mail answers a known ticket."""
    sender = mail.sender or Address("unknown@invalid")
    employee = routing.is_employee(sender.email)
    attachments, notes = _attachments(mail, store)
    text = mail.text.strip()
    description = "\n\n".join(filter(None, [text, *notes])) or "(no text)"
    reply = "\n\n".join(filter(None, [trim.trim_reply(text) if text else "", *notes])) or description
    data: dict[str, Any] = {
        "title": (strip_number(mail.subject) or "(no subject)")[:MAX_TITLE],
        "description": description,
        "reply_body": reply,
        "channel": "email",
        "requester": {"email": sender.email, "name": sender.name, "kind": "employee" if employee else "citizen"},
        "attachments": attachments,
        "attributes": {
            "email": {
                "message_id": mail.message_id,
                "from": sender.email,
                "to": [a.email for a in mail.to],
                "cc": [a.email for a in mail.cc],
                "folder": folder,
            }
        },
    }
    data.update(routing.fields_for(mail, folder, employee))
    if mail.html:
        data["description_html"] = htmltext.sanitize(mail.html)
    if routing.subscribe_cc:
        others = [a for a in [*mail.to, *mail.cc] if a.email not in routing.own_addresses and a.email != sender.email]
        if others:
            data["subscribers"] = [{"address": a.email, "name": a.name, "channel": "email"} for a in others]
    number = TICKET_NUMBER.search(mail.subject)
    event: dict[str, Any] = {
        "type": "ticket.create",
        "actor": {"email": sender.email, "name": sender.name},
        "thread_refs": [mail.message_id] if mail.message_id else [],
        # newest first: the mail it answers, then the rest of the chain
        "in_reply_to": list(dict.fromkeys([*mail.in_reply_to, *reversed(mail.references)])),
        "ticket_number": number.group(1) if number else None,
        "data": data,
    }
    if mail.date:
        event["occurred_at"] = clock.isoformat(mail.date)
    return event


def _attachments(mail: ParsedMail, store: AttachmentStore) -> tuple[list[dict[str, Any]], list[str]]:
    """Attachment records for the ticket; files over the size limit are listed but not kept, and
    the text says so (the ticket schema has no place for a flag)."""
    out, notes = [], []
    for att in mail.attachments:
        digest, stored = store.put(att.data)
        out.append({"name": att.name, "content_type": att.content_type, "size": len(att.data), "sha256": digest})
        if not stored:
            notes.append(
                f"[attachment {att.name} ({len(att.data):,} bytes) not stored: over the "
                f"{store.max_bytes:,} byte limit; it is still in the original mail]"
            )
    return out, notes
