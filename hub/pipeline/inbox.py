"""Receive: the durable, idempotent first step. Nothing is parsed here beyond the dedup key.

Webhook requests store through `hub.pipeline.group_commit`, which lets concurrent requests share
one commit and uses the row building and outcome matching below.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from hub import clock
from hub.sdk.connector import RawEvent
from hub.store.db import write
from hub.store.tables import inbox

log = logging.getLogger("hub.inbox")
MAX_KEY = 500
Groups = Sequence[tuple[str, Sequence[RawEvent]]]  # (instance, its events) for one commit
Keyed = list[list[tuple[str, RawEvent]]]  # each group's (dedup key, event)


@dataclass(frozen=True)
class Stored:
    inbox_id: int
    dedup_key: str
    duplicate: bool


def _key(event: RawEvent) -> str:
    key = event.dedup_key.strip()
    if not key:
        raise ValueError("event has an empty dedup key")
    if len(key) > MAX_KEY:
        import hashlib

        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def store(conn: Connection, instance: str, events: Sequence[RawEvent], now: datetime | None = None) -> list[Stored]:
    """Insert raw events, ignoring ones already stored for this instance. Runs in the caller's
    transaction: the caller commits (and only then acknowledges or advances a cursor)."""
    return store_many(conn, [(instance, events)], now)[0]


def store_many(conn: Connection, groups: Groups, now: datetime | None = None) -> list[list[Stored]]:
    """`store` for several (instance, events) groups at once: one multi-row INSERT ... ON CONFLICT
    DO NOTHING RETURNING for all of them, and one SELECT for the ids of any already stored."""
    keyed, rows = inbox_rows(groups, now or clock.now())
    if not rows:
        return [[] for _ in groups]
    # One compiled statement; SQLAlchemy sends the rows as multi-row VALUES ("insertmanyvalues").
    inserted = {(r.instance, r.dedup_key): int(r.id) for r in conn.execute(_insert_statement(conn.dialect.name), rows)}
    existing: dict[tuple[str, str], int] = {}
    for instance, keys in missing_keys(rows, inserted):
        found = conn.execute(
            select(inbox.c.id, inbox.c.dedup_key).where(inbox.c.instance == instance, inbox.c.dedup_key.in_(keys))
        )
        existing.update({(instance, r.dedup_key): int(r.id) for r in found})
    return outcomes(groups, keyed, inserted, existing)


def inbox_rows(groups: Groups, now: datetime) -> tuple[Keyed, list[dict[str, Any]]]:
    """The events' dedup keys, and the inbox rows to insert for them."""
    keyed = [[(_key(event), event) for event in events] for _instance, events in groups]
    rows = []
    for (instance, _events), pairs in zip(groups, keyed, strict=True):
        for key, event in pairs:
            rows.append(
                {
                    "instance": instance,
                    "dedup_key": key,
                    "received_at": event.received_at or now,
                    "content_type": event.content_type,
                    "headers": dict(event.headers),
                    "body": event.body,
                    "state": "received",
                    "attempts": 0,
                    "available_at": now,
                }
            )
    return keyed, rows


def missing_keys(rows: list[dict[str, Any]], inserted: dict[tuple[str, str], int]) -> Iterator[tuple[str, list[str]]]:
    """The keys the INSERT skipped (already stored), per instance, in chunks a query can take."""
    missing = {(str(r["instance"]), str(r["dedup_key"])) for r in rows} - inserted.keys()
    for instance in {i for i, _k in missing}:
        keys = sorted(k for i, k in missing if i == instance)
        for start in range(0, len(keys), 500):
            yield instance, keys[start : start + 500]


def outcomes(
    groups: Groups,
    keyed: Keyed,
    inserted: dict[tuple[str, str], int],
    existing: dict[tuple[str, str], int],
) -> list[list[Stored]]:
    results: list[list[Stored]] = []
    claimed: set[tuple[str, str]] = set()  # a key sent twice in one batch is new only the first time
    for (instance, _events), pairs in zip(groups, keyed, strict=True):
        out = []
        for key, _event in pairs:
            ident = (instance, key)
            if ident in inserted and ident not in claimed:
                claimed.add(ident)
                out.append(Stored(inserted[ident], key, False))
            else:
                out.append(Stored(inserted.get(ident) or existing[ident], key, True))
        results.append(out)
    return results


@cache
def _insert_statement(dialect_name: str) -> Insert:
    """Built once per dialect: the group committer runs it for every batch, competing for the GIL."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(inbox).on_conflict_do_nothing().returning(inbox.c.id, inbox.c.instance, inbox.c.dedup_key)


def receive(engine: Engine, instance: str, events: Sequence[RawEvent]) -> list[Stored]:
    """Store and commit in one transaction."""
    with write(engine) as conn:
        return store(conn, instance, events)
