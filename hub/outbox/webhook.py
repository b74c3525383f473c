"""Outbound webhooks (callbacks to systems that asked for updates): Standard Webhooks signatures,
an SSRF guard, and one attempt per call - the outbox owns retries and backoff.

Spec: github.com/standard-webhooks/standard-webhooks (spec/standard-webhooks.md). The signed
content is `{webhook-id}.{webhook-timestamp}.{body}`; the id stays the same across retries so the
receiver can drop repeats. 410 Gone means the endpoint is gone for good; 429 and 5xx are retried,
honouring Retry-After.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import requests

from hub import clock
from hub.sdk.errors import FatalError, RetriableError
from hub.sdk.http import retry_after_seconds

RETRY = frozenset({408, 425, 429, 500, 502, 503, 504})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def secret_bytes(secret: str) -> bytes:
    """`whsec_<base64>` as Standard Webhooks writes it, else the text itself."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def check_target(url: str, allowed: list[Network]) -> None:
    """Refuse URLs that would reach this machine or the internal network (SSRF), unless an admin
    allowed those addresses. Every address the name resolves to must be public or allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FatalError(f"callback URL {url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise FatalError("callback URLs must not carry credentials")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise RetriableError(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in net for net in allowed):
            continue
        if not address.is_global or address.is_multicast:
            raise FatalError(f"callback to {parts.hostname} refused: {address} is not a public address")


def post(
    url: str,
    body: bytes,
    *,
    msg_id: str,
    secret: str,
    allowed: list[Network],
    timeout: float = 10.0,
) -> int:
    """POST once; returns the status on 2xx, raises RetriableError or FatalError otherwise."""
    check_target(url, allowed)
    timestamp = int(clock.now().timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "service-desk-hub/0.1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
    try:
        response = requests.post(url, data=body, headers=headers, timeout=(5.0, timeout), allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RetriableError(f"{type(exc).__name__} posting to {urlsplit(url).hostname}") from None
    status = response.status_code
    if 200 <= status < 300:
        return status
    if status == 410:
        raise FatalError(f"{urlsplit(url).hostname} answered 410 Gone: the endpoint no longer takes callbacks")
    if status in RETRY:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        raise RetriableError(f"callback answered {status}", retry_after=wait)
    raise FatalError(f"callback answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else ""))
