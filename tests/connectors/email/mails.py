"""Composing the test mails with the standard library, as real clients would send them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from tests.connectors.email.conftest import ADDRESS


def mail(
    subject: str = "Pothole on Main St",
    body: str = "There is a deep pothole in front of 100 Main St.",
    *,
    sender: str = "ann@example.org",
    name: str | None = "Ann Citizen",
    to: str = ADDRESS,
    cc: list[str] | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((name or "", sender))
    msg["To"] = to
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.org>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for key, value in (headers or {}).items():
        msg[key] = value
    if body is not None:
        msg.set_content(body)
    if html is not None:
        if body is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg


def reply_to(
    original: EmailMessage, body: str, *, sender: str | None = None, subject: str | None = None
) -> EmailMessage:
    """A reply as a mail client writes it: In-Reply-To, References, quoted original."""
    quoted = "\n".join(f"> {line}" for line in original.get_content().splitlines())
    refs = [*str(original.get("References", "")).split(), original["Message-ID"]]
    return mail(
        subject or f"Re: {original['Subject']}",
        f"{body}\n\nOn Fri, 27 Nov 2026 at 10:00, {original['From']} wrote:\n{quoted}\n",
        sender=sender or str(original["To"]).split("<")[-1].strip(">").strip(),
        in_reply_to=original["Message-ID"],
        references=refs,
    )
