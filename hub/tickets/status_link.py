"""Signed status links: the requester's key to their own ticket, no login.

The token carries only the ticket id, signed with the desk's key (itsdangerous, already a Flask
dependency). Several keys are accepted at once so a key can be rotated without breaking links
already sent; an optional maximum age makes old links expire.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hub.tickets.desk_config import DeskConfig

SALT = "hub.status-link.v1"


def _serializer(desk: DeskConfig) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and accepts any of them
    return URLSafeTimedSerializer(list(reversed(desk.signing_keys())), salt=SALT)


def token_for(desk: DeskConfig, ticket_id: int) -> str:
    return _serializer(desk).dumps({"t": int(ticket_id)})


def ticket_of(desk: DeskConfig, token: str) -> int | None:
    """The ticket id a token opens, or None (forged, altered, expired)."""
    try:
        max_age = int(desk.status_link_max_age) if desk.status_link_max_age is not None else None
        data = _serializer(desk).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    ticket = data.get("t") if isinstance(data, dict) else None
    return ticket if isinstance(ticket, int) and ticket > 0 else None


def status_url(desk: DeskConfig, ticket_id: int) -> str:
    return f"{desk.public_url}/status/{token_for(desk, ticket_id)}"


def survey_url(desk: DeskConfig, ticket_id: int) -> str:
    return f"{status_url(desk, ticket_id)}/survey"
