"""API bearer tokens: random, shown once, stored only as their SHA-256.

A token has 256 bits of entropy, so a plain (unsalted) SHA-256 is enough to make a stolen table
useless, and it lets a request find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hub import clock
from hub.store.db import read, write
from hub.store.tables import api_tokens

SCOPES = ("tickets:read", "tickets:write", "events:admin", "reports:read", "admin")
# A scope also grants the ones listed here; `admin` grants everything.
IMPLIED = {"tickets:write": {"tickets:read"}, "admin": set(SCOPES)}
PREFIX = "hub_"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is refreshed at most this often (one write)


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def effective(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    granted = set(scopes)
    for scope in scopes:
        granted |= IMPLIED.get(scope, set())
    return frozenset(granted)


def create(conn: Connection, name: str, scopes: list[str]) -> tuple[int, str]:
    """Returns (id, plaintext token); the plaintext is not kept anywhere."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"unknown scope {unknown[0]!r}; use {', '.join(SCOPES)}" if unknown else "give a scope")
    plaintext = PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        insert(api_tokens)
        .values(name=name, token_hash=hash_token(plaintext), scopes=sorted(set(scopes)), created_at=clock.now())
        .returning(api_tokens.c.id)
    ).scalar_one()
    return int(token_id), plaintext


def authenticate(engine: Engine, plaintext: str) -> Token | None:
    """The live token for a presented bearer value, or None (unknown or revoked)."""
    with read(engine) as conn:
        live = api_tokens.c.revoked_at.is_(None)
        row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == hash_token(plaintext), live)).first()
    if row is None:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        with write(engine) as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now))
    return Token(int(row.id), row.name, effective(row.scopes))


def listing(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(api_tokens).order_by(api_tokens.c.id)).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "scopes": " ".join(r.scopes),
            "created_at": _ts(r.created_at),
            "last_used_at": _ts(r.last_used_at),
            "revoked_at": _ts(r.revoked_at),
        }
        for r in rows
    ]


def revoke(conn: Connection, ref: str) -> int:
    """Revoke by id or by name (every live token of that name); returns how many."""
    where = api_tokens.c.id == int(ref) if ref.isdigit() else api_tokens.c.name == ref
    result = conn.execute(
        update(api_tokens).where(where, api_tokens.c.revoked_at.is_(None)).values(revoked_at=clock.now())
    )
    return int(result.rowcount)


def _ts(value: datetime | None) -> str | None:
    return clock.isoformat(value) if value else None
