"""Sending through Microsoft Graph `sendMail` for mailboxes in Microsoft 365.

The message goes as base64 MIME (Content-Type text/plain), not as Graph JSON: JSON only allows
`x-` custom headers, and we need our own Message-ID, In-Reply-To, References and Auto-Submitted
so replies thread and auto-responders stay quiet. Graph answers 202 Accepted. Retries,
Retry-After and the status -> error table are the core HttpClient's."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from urllib.parse import quote

from hub.sdk.http import HttpClient

DEFAULT_BASE = "https://graph.microsoft.com/v1.0"


def send(http: HttpClient, message: EmailMessage, *, mailbox: str, token: str, base_url: str = DEFAULT_BASE) -> None:
    body = base64.b64encode(message.as_bytes())
    http.request(
        "POST",
        f"{base_url.rstrip('/')}/users/{quote(mailbox)}/sendMail",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        expect=(202,),
    )
