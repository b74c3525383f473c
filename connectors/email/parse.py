"""Raw RFC 5322 bytes -> the parts of a mail the hub uses, with the standard library's modern
email API (policy=default: RFC 2047 headers, RFC 2231 file names, address objects).

Everything here is forgiving: a malformed header or part degrades to less information, never to
an exception, because a citizen's broken mail still deserves a ticket.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from connectors.email import charsets, htmltext

_MSGID = re.compile(r"<[^<>\s]+>")
_CTRL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Address:
    email: str
    name: str | None = None


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass
class ParsedMail:
    message: EmailMessage
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = ""
    sender: Address | None = None
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)

    def header(self, name: str) -> str:
        """A header's decoded value ('' when absent or unreadable)."""
        return header(self.message, name)


def parse_bytes(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def parse(raw: bytes) -> ParsedMail:
    msg = parse_bytes(raw)
    mail = ParsedMail(message=msg)
    mail.message_id = first_id(header(msg, "Message-ID"))
    mail.in_reply_to = message_ids(header(msg, "In-Reply-To"))
    mail.references = message_ids(header(msg, "References"))
    mail.subject = re.sub(r"\s+", " ", header(msg, "Subject")).strip()
    senders = addresses(msg, "From")
    mail.sender = senders[0] if senders else None
    mail.reply_to = addresses(msg, "Reply-To")
    mail.to = addresses(msg, "To")
    mail.cc = addresses(msg, "Cc")
    mail.date = _date(header(msg, "Date"))
    body = _Body()
    body.walk(msg)
    mail.text = "\n\n".join(t.strip("\n") for t in body.texts if t.strip()).strip()
    mail.html = "\n".join(body.htmls) if body.htmls else None
    if not mail.text and mail.html:
        mail.text = htmltext.to_text(mail.html)
    mail.attachments = body.attachments
    return mail


def header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot model: fall back to its raw text
        value = (
            next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
            if hasattr(msg, "raw_items")
            else None
        )
    return charsets.fix_header(str(value)) if value is not None else ""


def message_ids(value: str) -> list[str]:
    return _MSGID.findall(value or "")


def first_id(value: str) -> str | None:
    found = message_ids(value)
    if found:
        return found[0]
    value = (value or "").strip()
    return f"<{value}>" if value and " " not in value else None


def addresses(msg: Message, name: str) -> list[Address]:
    """Addresses of a header; junk entries (no @) are dropped, addresses lower-cased."""
    out: list[Address] = []
    try:
        value: Any = msg[name]
        found = [(a.display_name, a.addr_spec) for a in value.addresses] if value else []
    except Exception:
        found = getaddresses([header(msg, name)])
    for display, addr in found:
        addr = (addr or "").strip().strip("<>").lower()
        if "@" in addr and " " not in addr:
            out.append(Address(addr, charsets.fix_header(display).strip() or None))
    return out


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else str(part.get_payload()).encode("utf-8", "surrogateescape")
    declared = part.get_content_charset()
    if declared is None and part.get_content_type() == "text/html":
        declared = charsets.sniff_html(data)
    return charsets.decode(data, declared)


def safe_name(name: str | None, content_type: str, index: int) -> str:
    """A file name without directories or control characters; invented when the part has none."""
    name = _CTRL.sub("", charsets.fix_header(name or "")).replace("\\", "/").split("/")[-1].strip(" .")
    if not name:
        ext = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment-{index}{ext}"
    return name[:200]


class _Body:
    """Collects body texts, HTML and attachments from a MIME tree."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[Attachment] = []

    def walk(self, part: Message, inline_context: bool = False) -> None:
        ctype = part.get_content_type()
        if part.is_multipart():
            children = [c for c in part.get_payload() if isinstance(c, Message)]
            if ctype == "message/rfc822":
                self._attach(part)
            elif ctype == "multipart/alternative":
                self._alternative(children)
            elif ctype == "multipart/related" and children:
                self.walk(children[0])
                for child in children[1:]:
                    self._attach(child, inline=True)
            else:  # mixed, signed, report, digest, unknown multiparts: every child in order
                for child in children:
                    self.walk(child)
            return
        disposition = part.get_content_disposition()
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not part.get_filename():
            (self.htmls if ctype == "text/html" else self.texts).append(part_text(part))
        else:
            self._attach(part, inline=inline_context or disposition == "inline")

    def _alternative(self, children: list[Message]) -> None:
        plain = next((c for c in children if c.get_content_type() == "text/plain"), None)
        rich = next((c for c in reversed(children) if c.get_content_type() in ("text/html", "multipart/related")), None)
        if rich is not None:
            before = len(self.texts)
            self.walk(rich)
            del self.texts[before:]  # text of the rich branch duplicates the plain one
        if plain is not None:
            self.texts.append(part_text(plain))

    def _attach(self, part: Message, inline: bool = False) -> None:
        ctype = part.get_content_type()
        if ctype == "message/rfc822":  # a forwarded mail, kept whole as an .eml attachment
            inner = part.get_payload(0) if part.is_multipart() else None
            data = _message_bytes(inner) if isinstance(inner, Message) else b""
            subject = header(inner, "Subject") if isinstance(inner, Message) else ""
            name = safe_name(f"{subject or 'forwarded message'}.eml", ctype, len(self.attachments) + 1)
            self.attachments.append(Attachment(name, ctype, data))
            return
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        content_id = first_id(header(part, "Content-ID")) if part.get("Content-ID") else None
        name = safe_name(part.get_filename(), ctype, len(self.attachments) + 1)
        self.attachments.append(Attachment(name, ctype, data, inline=inline or bool(content_id), content_id=content_id))


def _message_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=policy.SMTP)
    except Exception:  # exotic header folding: the compat serializer copes with more
        return msg.as_string().encode("utf-8", "surrogateescape")
