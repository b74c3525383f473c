"""One read of a ticket row per change instead of one per listener.

Applying one event used to read the same ticket row four or five times (the service, the SLA
clock, duplicate detection, notifications, follow-ups). Inside `cached(conn)` (the worker's batch)
the row is read once and shared. The service's own column updates (`patching` statements) patch
the cached row with the values they wrote; any other write to the tickets table, and any rollback,
empties the whole cache, so a reader never sees a row older than the database's. Outside
`cached`, `load` is a plain read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, Connection, bindparam, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import UpdateBase

from hub import jsonutil
from hub.store.tables import tickets

# Per connection, not in conn.info: that would reach for the DBAPI connection, which is gone when
# the rollback of an invalidated connection (database outage) tells us to forget.
_caches: WeakKeyDictionary[Connection, dict[int, Any]] = WeakKeyDictionary()
_LOAD = select(tickets).where(tickets.c.id == bindparam("ticket_id"))
_PATCHING: set[int] = set()  # ids of statements whose callers patch the cache themselves


def patching(statement: Any) -> Any:
    """Mark an UPDATE of tickets whose caller calls `patch` with what it wrote."""
    _PATCHING.add(id(statement))
    return statement


@contextmanager
def cached(conn: Connection) -> Iterator[None]:
    _caches[conn] = {}
    try:
        yield
    finally:
        _caches.pop(conn, None)


def load(conn: Connection, ticket_id: int) -> Any:
    """The ticket's current row, or None."""
    cache = _caches.get(conn)
    if cache is not None and ticket_id in cache:
        return cache[ticket_id]
    row: Any = conn.execute(_LOAD, {"ticket_id": ticket_id}).first()
    if cache is not None and row is not None:
        cache[ticket_id] = row = SimpleNamespace(**row._mapping)
    return row


def remember(conn: Connection, ticket_id: int, values: dict[str, Any]) -> None:
    """Cache a ticket just inserted with `values` (its columns as the database returns them:
    JSON values go through a round trip, so a tuple reads back as a list)."""
    cache = _caches.get(conn)
    if cache is None:
        return
    row: dict[str, Any] = {column.key: None for column in tickets.c}
    for name, value in values.items():
        row[name] = jsonutil.loads(jsonutil.dumpb(value)) if name in _JSON_COLUMNS and value is not None else value
    cache[ticket_id] = SimpleNamespace(**{**row, "id": ticket_id})


_JSON_COLUMNS = frozenset(c.name for c in tickets.c if isinstance(c.type, JSON))


def patch(conn: Connection, ticket_id: int, values: dict[str, Any], *, bump: bool) -> None:
    """The cached row after `UPDATE tickets SET values (, version = version + 1)`."""
    cache = _caches.get(conn)
    row = cache.get(ticket_id) if cache else None
    if row is None:
        return
    row = SimpleNamespace(**{**vars(row), **values})
    if bump:
        row.version += 1
    cache[ticket_id] = row  # type: ignore[index]  # (cache is not None: row came from it)


def forget(conn: Connection) -> None:
    cache = _caches.get(conn)
    if cache:
        cache.clear()


@event.listens_for(Engine, "before_execute")
def _on_execute(conn: Connection, clause: Any, multiparams: Any, params: Any, options: Any) -> None:
    patched_by_caller = id(clause) in _PATCHING
    if isinstance(clause, UpdateBase) and clause.table is tickets and not patched_by_caller:
        forget(conn)


@event.listens_for(Engine, "rollback_savepoint")
def _on_rollback_savepoint(conn: Connection, name: Any, context: Any) -> None:
    forget(conn)


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Connection) -> None:
    forget(conn)
