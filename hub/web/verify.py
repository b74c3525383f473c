"""Signature checks for pushed requests, done once in the core for every push connector.

Each instance's `verify` section picks a scheme; it is compiled into a Verifier at start-up
(secrets decoded once, a bad secret stops the hub with an error naming the instance). Checks run
on the raw body bytes before anything parses them, compare in constant time, and fail with a
reason that names what was wrong without ever containing a secret, a signature or the body.

Standard Webhooks: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub import clock
from hub.config import parse_duration

WHSEC_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300.0


class VerificationError(Exception):
    """The request is not from the configured sender. `reason` is safe to show and log."""

    def __init__(self, reason: str, kind: str = "signature") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # short label for metrics: missing, timestamp, signature, malformed, unconfigured


class VerifyConfigError(ValueError):
    """The `verify` section itself is wrong (checked at start-up)."""


class Verifier(Protocol):
    scheme: str

    def verify(self, headers: Mapping[str, str], body: bytes) -> None: ...

    def sign(self, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
        """Headers a sender adds to `body` (used by `hub webhooks send` and tests)."""
        ...


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _secret_list(config: Mapping[str, Any]) -> list[str]:
    found = [config["secret"]] if config.get("secret") else []
    found += list(config.get("secrets") or [])
    return [str(s) for s in found]


def decode_whsec(secret: str) -> bytes:
    """`whsec_` + base64 of the key (the prefix is optional, padding too, as in the reference libraries)."""
    text = secret[len(WHSEC_PREFIX) :] if secret.startswith(WHSEC_PREFIX) else secret
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise VerifyConfigError("secret is not whsec_ followed by base64") from None
    if len(key) < 16:
        raise VerifyConfigError("secret is too short (at least 16 bytes of key are needed)")
    return key


def new_whsec() -> str:
    """A fresh random Standard Webhooks secret (32 bytes of key)."""
    return WHSEC_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


@dataclass
class StandardWebhooks:
    """`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> v1,<b64> ...`."""

    keys: list[bytes]
    tolerance: float = DEFAULT_TOLERANCE
    scheme: str = "standard_webhooks"

    @staticmethod
    def _mac(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
        return hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        h = _lower(headers)
        msg_id, timestamp, signature = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
        for name, value in (("webhook-id", msg_id), ("webhook-timestamp", timestamp), ("webhook-signature", signature)):
            if not value:
                raise VerificationError(f"missing {name} header", "missing")
        assert msg_id and timestamp and signature
        if not timestamp.isdigit():
            raise VerificationError("webhook-timestamp is not Unix seconds", "malformed")
        age = clock.now().timestamp() - int(timestamp)
        if abs(age) > self.tolerance:
            when = "old" if age > 0 else "far in the future"
            raise VerificationError(f"webhook-timestamp is too {when} (tolerance {int(self.tolerance)} s)", "timestamp")
        expected = [self._mac(key, msg_id, timestamp, body) for key in self.keys]
        matched = False
        for entry in signature.split():
            version, _, value = entry.partition(",")
            if version != "v1" or not value:
                continue  # other versions (v1a = ed25519) are not ours to check
            try:
                given = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            for mac in expected:  # no early exit: the time taken does not depend on which matched
                matched |= hmac.compare_digest(mac, given)
        if not matched:
            raise VerificationError("no webhook-signature entry matches", "signature")

    def sign(self, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
        msg_id = msg_id or "msg_" + random_secrets.token_urlsafe(18)
        timestamp = str(int((at or clock.now()).timestamp()))
        signature = " ".join(
            "v1," + base64.b64encode(self._mac(key, msg_id, timestamp, body)).decode() for key in self.keys[:1]
        )
        return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


@dataclass
class HmacSha256:
    """HMAC-SHA256 of the raw body in one header: `sha256=<hex>` (GitHub), plain hex or base64."""

    keys: list[bytes]
    header: str = "X-Signature"
    prefix: str = ""
    encoding: str = "hex"
    scheme: str = "hmac_sha256"

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        value = _lower(headers).get(self.header.lower(), "").strip()
        if not value:
            raise VerificationError(f"missing {self.header} header", "missing")
        if self.prefix:
            if not value.lower().startswith(self.prefix.lower()):
                raise VerificationError(f"{self.header} does not start with {self.prefix!r}", "malformed")
            value = value[len(self.prefix) :]
        try:
            given = bytes.fromhex(value) if self.encoding == "hex" else base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise VerificationError(f"{self.header} is not {self.encoding}", "malformed") from None
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), given)
        if not matched:
            raise VerificationError(f"{self.header} does not match the body", "signature")

    def sign(self, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
        mac = hmac.new(self.keys[0], body, hashlib.sha256).digest()
        text = mac.hex() if self.encoding == "hex" else base64.b64encode(mac).decode()
        return {self.header: self.prefix + text}


@dataclass
class SharedToken:
    """A static token in a header, e.g. `Authorization: Bearer <token>` or `X-Api-Key: <token>`."""

    keys: list[bytes]
    header: str = "Authorization"
    prefix: str = "Bearer "
    scheme: str = "token"

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        value = _lower(headers).get(self.header.lower(), "")
        if not value:
            raise VerificationError(f"missing {self.header} header", "missing")
        if self.prefix and not value.lower().startswith(self.prefix.lower()):
            raise VerificationError(f"{self.header} does not start with {self.prefix.strip()!r}", "malformed")
        given = value[len(self.prefix) :].strip().encode()
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(key, given)
        if not matched:
            raise VerificationError(f"{self.header} token is not accepted", "signature")

    def sign(self, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
        return {self.header: self.prefix + self.keys[0].decode()}


@dataclass
class NoVerification:
    """`scheme: none`: an admin chose to accept unsigned requests (e.g. behind a trusted proxy)."""

    scheme: str = "none"

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        return None

    def sign(self, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
        return {}


@dataclass
class Unconfigured:
    """A push instance without a `verify` section refuses every request: unsigned intake must be
    an explicit choice (`scheme: none`), never an accident."""

    scheme: str = "unconfigured"

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        raise VerificationError("this instance has no verify section; an admin must configure one", "unconfigured")

    def sign(self, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
        raise VerifyConfigError("the instance has no verify section to sign with")


def build_verifier(config: Mapping[str, Any] | None) -> Verifier:
    """Compile a `verify` section (already schema-checked). Raises VerifyConfigError."""
    if config is None:
        return Unconfigured()
    scheme = config["scheme"]
    if scheme == "none":
        return NoVerification()
    raw = _secret_list(config)
    if not raw:
        raise VerifyConfigError(f"scheme {scheme!r} needs `secret` or `secrets`")
    if scheme == "standard_webhooks":
        tolerance = parse_duration(config["tolerance"]) if "tolerance" in config else DEFAULT_TOLERANCE
        return StandardWebhooks([decode_whsec(s) for s in raw], tolerance)
    keys = [s.encode() for s in raw]
    if scheme == "hmac_sha256":
        return HmacSha256(
            keys,
            header=config.get("header", "X-Signature"),
            prefix=config.get("prefix", ""),
            encoding=config.get("encoding", "hex"),
        )
    if scheme == "token":
        header = config.get("header", "Authorization")
        default_prefix = "Bearer " if header.lower() == "authorization" else ""
        return SharedToken(keys, header=header, prefix=config.get("prefix", default_prefix))
    raise VerifyConfigError(f"unknown scheme {scheme!r}")
