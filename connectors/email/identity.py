"""A mail's dedup key: its Message-ID plus a hash of what its sender wrote.

The hash covers the body and the headers the sender set (From, Date, Subject, Message-ID), not
the trace headers servers add on the way (Received, Delivered-To...), so the same mail fetched
again after a UIDVALIDITY change, moved to another folder, or delivered twice through two
aliases gets the same key and is stored once; a different mail reusing a Message-ID (broken
senders do) still gets a key of its own. Only four header fields are read: receive stays cheap.
"""

from __future__ import annotations

import hashlib
import re

_SPLIT = re.compile(rb"\r?\n\r?\n")
_FIELD = re.compile(rb"^(message-id|from|date|subject)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_KEY_HEADERS = (b"message-id", b"from", b"date", b"subject")


def dedup_key(raw: bytes) -> str:
    match = _SPLIT.search(raw)
    head, body = (raw[: match.start()], raw[match.end() :]) if match else (raw, b"")
    found: dict[bytes, bytes] = {}
    for field in _FIELD.finditer(head):
        found.setdefault(field.group(1).lower(), b" ".join(field.group(2).split()))  # first one, unfolded
    digest = hashlib.sha256()
    for name in _KEY_HEADERS:
        digest.update(name + b":" + found.get(name, b"") + b"\n")
    digest.update(body.replace(b"\r\n", b"\n").rstrip(b"\n"))
    message_id = found.get(b"message-id", b"").decode("utf-8", "replace")[:300]
    return f"{message_id}|sha256:{digest.hexdigest()}" if message_id else f"sha256:{digest.hexdigest()}"
