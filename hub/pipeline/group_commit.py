"""Group commit for webhook intake: concurrent requests share one transaction, and each request is
answered only after the commit holding its event has returned.

On SQLite the committer drives one DBAPI connection itself (`SQLiteBatchWriter`). Under load the
committer thread gives up the GIL at every database call and waits to get it back behind the
request threads, so the number of calls per batch is what limits intake. Through SQLAlchemy a
batch took a pool checkout and reset, a BEGIN issued from an event, the execution context and
result processing; without them intake went from 0.42 to 0.51 of the bare Flask reference,
measured side by side (bench/README.md, change 23). PostgreSQL keeps the SQLAlchemy path.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from hub import clock
from hub.pipeline.inbox import Groups, Stored, inbox_rows, missing_keys, outcomes, store_many
from hub.sdk.connector import RawEvent
from hub.store import checkpoint
from hub.store.db import is_sqlite, sqlite_writer, write
from hub.store.tables import inbox

log = logging.getLogger("hub.inbox")


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
        in_memory = engine.url.database in (None, "", ":memory:")  # one database per connection
        self._writer = SQLiteBatchWriter(engine) if is_sqlite(engine) and not in_memory else None
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
        try:
            with checkpoint.running(self.engine):  # no webhook's commit copies the log back
                while True:
                    job = self._queue.get()
                    if job is None:
                        return
                    # On SQLite the batch is gathered once the write lock is ours: the requests that
                    # came in while the worker held it go into this commit, not behind its next batch.
                    with self._writers_turn():
                        self._commit(self._gather(job))
        finally:
            if self._writer is not None:
                self._writer.close()

    def _writers_turn(self) -> AbstractContextManager[None]:
        return sqlite_writer(self.engine) if self._writer is not None else nullcontext()

    def _gather(self, first: _Job) -> list[_Job]:
        jobs = [first]
        while len(jobs) < self.max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._queue.put(None)
                break
            jobs.append(more)
        return jobs

    def _store(self, groups: Groups) -> list[list[Stored]]:
        if self._writer is not None:
            return self._writer.store(groups)
        with write(self.engine) as conn:
            return store_many(conn, groups)

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            results = self._store([(j.instance, j.events) for j in jobs])
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


class SQLiteBatchWriter:
    """`store_many` on one DBAPI connection held for the committer's life: BEGIN IMMEDIATE, one
    multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING, COMMIT. The connection comes from the
    engine's pool, so it has the same pragmas (WAL, synchronous=FULL) and connect hooks as every
    other; values go through the columns' own bind processors, so rows read back exactly as rows
    stored through SQLAlchemy do. Used from one thread only, which holds `db.sqlite_writer`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._bind: dict[str, Callable[[Any], Any] | None] = {
            column.name: column.type.bind_processor(engine.dialect) for column in inbox.c
        }
        self._conn: Any = None  # the pool's proxy of the DBAPI connection, opened on first use

    def store(self, groups: Groups) -> list[list[Stored]]:
        keyed, rows = inbox_rows(groups, clock.now())
        if not rows:
            return [[] for _ in groups]
        columns = tuple(rows[0])  # what `inbox_rows` fills, in its order
        processors = [self._bind[name] for name in columns]
        params = [
            process(row[name]) if process else row[name]
            for row in rows
            for name, process in zip(columns, processors, strict=True)
        ]
        proxy = self._connection()
        dbapi_conn = proxy.driver_connection
        try:
            dbapi_conn.execute("BEGIN IMMEDIATE")
            try:
                inserted: dict[tuple[str, str], int] = {}
                width = len(columns)
                for start in range(0, len(rows), _CHUNK):  # SQLite caps the parameters per statement
                    chunk = params[start * width : (start + _CHUNK) * width]
                    returned = dbapi_conn.execute(_insert_sql(columns, len(chunk) // width), chunk).fetchall()
                    inserted.update({(instance, key): int(ident) for ident, instance, key in returned})
                existing: dict[tuple[str, str], int] = {}
                for instance, keys in missing_keys(rows, inserted):
                    found = dbapi_conn.execute(_existing_sql(len(keys)), [instance, *keys])
                    existing.update({(instance, key): int(ident) for ident, key in found})
                dbapi_conn.execute("COMMIT")
            except BaseException:
                if dbapi_conn.in_transaction:
                    dbapi_conn.rollback()
                raise
        except self.engine.dialect.loaded_dbapi.Error as exc:
            disconnected = self.engine.dialect.is_disconnect(exc, proxy, None)
            if disconnected:
                proxy.invalidate(exc)
                self._conn = None
            # The callers (webhook, tests) handle SQLAlchemy's errors; the statement and its
            # parameters (event bodies) stay out of the message.
            raise DBAPIError.instance(
                "INSERT INTO inbox",
                None,
                exc,
                self.engine.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=disconnected,
                dialect=self.engine.dialect,
            ) from exc
        return outcomes(groups, keyed, inserted, existing)

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self.engine.raw_connection()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # back to the pool
            self._conn = None


_CHUNK = 500  # rows per INSERT: ~4,500 parameters, under SQLite's default limit of 32,766


@lru_cache(maxsize=64)
def _insert_sql(columns: tuple[str, ...], rows: int) -> str:
    values = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * rows)
    return (
        f"INSERT INTO {inbox.name} ({', '.join(columns)}) VALUES {values} "
        "ON CONFLICT DO NOTHING RETURNING id, instance, dedup_key"
    )


@lru_cache(maxsize=64)
def _existing_sql(keys: int) -> str:
    return f"SELECT id, dedup_key FROM {inbox.name} WHERE instance = ? AND dedup_key IN ({', '.join('?' * keys)})"
