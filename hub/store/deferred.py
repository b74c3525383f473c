"""Rows nothing reads back inside the transaction (ticket history, report metrics), written as one
executemany per statement just before the transaction ends instead of one statement each.

Only inside `deferring(conn)` (the worker's optimistic pass, which rolls back as a whole on any
failure); everywhere else `execute` runs the statement at once. Rows are written in the order
they were queued, so history keeps its order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Executable

from hub.store import direct

# A plain dict (a weak reference per look-up cost ~1% of the worker's time): `deferring` always
# removes its entry.
_queues: dict[Connection, dict[Executable, dict[Any, dict[str, Any]]]] = {}


@contextmanager
def deferring(conn: Connection) -> Iterator[None]:
    """Queue `execute`d rows on `conn`; the caller `flush`es before committing."""
    _queues[conn] = {}
    try:
        yield
    finally:
        _queues.pop(conn, None)


def active(conn: Connection) -> bool:
    return conn in _queues


def execute(conn: Connection, statement: Executable, rows: list[dict[str, Any]], *, key: str | None = None) -> None:
    """Every row of one statement must have the same keys (one executemany). With `key` (an
    upsert's conflict column), a later row replaces a queued one with the same value: one
    multi-row upsert must not touch a row twice (PostgreSQL refuses)."""
    if not rows:
        return  # (an empty executemany would run the statement once with no values)
    queue = _queues.get(conn)
    if queue is None:
        conn.execute(statement, rows)
        return
    queued = queue.setdefault(statement, {})
    for row in rows:
        queued[row[key] if key else object()] = row


def flush(conn: Connection) -> None:
    queue = _queues.get(conn)
    if not queue:
        return
    for statement, rows in queue.items():
        direct.executemany(conn, statement, list(rows.values()))
    queue.clear()
