"""A mail's dedup key: its Message-ID plus a hash of what its sender wrote.

The hash covers the body and the headers the sender set (From, Date, Subject, Message-ID), not
the trace headers servers add on the way (Received, Delivered-To...), so the same mail fetched
again after a UIDVALIDITY change, moved to another folder, or delivered twice through two
aliases gets the same key and is stored once; a different mail reusing a Message-ID (broken
senders do) still gets a key of its own. Only the header block is parsed: receive stays cheap.
"""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.parser import BytesHeaderParser

_SPLIT = re.compile(rb"\r?\n\r?\n")
_KEY_HEADERS = ("message-id", "from", "date", "subject")


def dedup_key(raw: bytes) -> str:
    match = _SPLIT.search(raw)
    head, body = (raw[: match.start()], raw[match.end() :]) if match else (raw, b"")
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head + b"\r\n\r\n")
    digest = hashlib.sha256()
    for name in _KEY_HEADERS:
        digest.update(f"{name}:{' '.join(str(headers.get(name, '')).split())}\n".encode("utf-8", "surrogateescape"))
    digest.update(body.replace(b"\r\n", b"\n").rstrip(b"\n"))
    message_id = " ".join(str(headers.get("message-id", "")).split())[:300]
    return f"{message_id}|sha256:{digest.hexdigest()}" if message_id else f"sha256:{digest.hexdigest()}"
