"""Receive: the durable, idempotent first step. Nothing is parsed here beyond the dedup key.

`GroupCommitter` lets concurrent webhook requests share one commit: each request still waits
until the transaction holding its event has committed before it is answered.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from hub import clock
from hub.sdk.connector import RawEvent
from hub.store.db import write
from hub.store.tables import inbox

log = logging.getLogger("hub.inbox")
MAX_KEY = 500


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


def store_many(
    conn: Connection, groups: Sequence[tuple[str, Sequence[RawEvent]]], now: datetime | None = None
) -> list[list[Stored]]:
    """`store` for several (instance, events) groups at once: one multi-row INSERT ... ON CONFLICT
    DO NOTHING RETURNING for all of them, and one SELECT for the ids of any already stored. Few
    statements matter on the webhook path: each one releases and re-takes the GIL, and the group
    commit thread competes for it with every request thread."""
    now = now or clock.now()
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
    if not rows:
        return [[] for _ in groups]
    # One compiled statement; SQLAlchemy sends the rows as multi-row VALUES ("insertmanyvalues").
    inserted = {(r.instance, r.dedup_key): int(r.id) for r in conn.execute(_insert_statement(conn.dialect.name), rows)}
    missing = {(str(r["instance"]), str(r["dedup_key"])) for r in rows} - inserted.keys()
    existing: dict[tuple[str, str], int] = {}
    for instance in {i for i, _k in missing}:
        keys = [k for i, k in missing if i == instance]
        for start in range(0, len(keys), 500):
            found = conn.execute(
                select(inbox.c.id, inbox.c.dedup_key).where(
                    inbox.c.instance == instance, inbox.c.dedup_key.in_(keys[start : start + 500])
                )
            )
            existing.update({(instance, r.dedup_key): int(r.id) for r in found})
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


@dataclass
class _Job:
    instance: str
    events: Sequence[RawEvent]
    future: Future[list[Stored]]


class GroupCommitter:
    """One writer thread; concurrent submissions are committed together.

    A failing batch is retried one submission at a time, so one bad event fails only its own
    request. Futures are resolved only after the commit returned.
    """

    def __init__(self, engine: Engine, max_batch: int = 200) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="hub-group-commit", daemon=True)
        self._thread.start()

    def submit(self, instance: str, events: Sequence[RawEvent]) -> Future[list[Stored]]:
        future: Future[list[Stored]] = Future()
        self._queue.put(_Job(instance, events, future))
        return future

    def receive(self, instance: str, events: Sequence[RawEvent], timeout: float = 30.0) -> list[Stored]:
        return self.submit(instance, events).result(timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                jobs.append(more)
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            with write(self.engine) as conn:
                results = store_many(conn, [(j.instance, j.events) for j in jobs])
        except Exception as exc:
            if len(jobs) == 1:
                jobs[0].future.set_exception(exc)
                return
            log.warning("group commit of %d failed (%s); retrying one by one", len(jobs), type(exc).__name__)
            for single in jobs:
                self._commit([single])
            return
        for j, result in zip(jobs, results, strict=True):
            j.future.set_result(result)
