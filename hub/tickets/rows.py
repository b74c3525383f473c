"""One read of a ticket row (and of its subscribers) per change instead of one per listener.

Applying one event used to read the same ticket row four or five times (the service, the SLA
clock, duplicate detection, notifications, follow-ups) and its subscribers three times. Inside
`cached(conn)` (the worker's batch) each is read once and shared. The service's own writes
(`patching` statements) patch the cache with the values they wrote; any other write to the
tickets or subscribers table, and any rollback, empties the whole cache, so a reader never sees
anything older than the database. Outside `cached`, reads go to the database.
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
from hub.store.tables import subscribers as subscribers_table
from hub.store.tables import tickets

# Per connection, not in conn.info: that would reach for the DBAPI connection, which is gone when
# the rollback of an invalidated connection (database outage) tells us to forget.
# Keys: a ticket id (its row), ("subscribers", ticket id) (its subscribers, oldest first).
_caches: WeakKeyDictionary[Connection, dict[Any, Any]] = WeakKeyDictionary()
_LOAD = select(tickets).where(tickets.c.id == bindparam("ticket_id"))
_SUBSCRIBERS = (
    select(subscribers_table)
    .where(subscribers_table.c.ticket_id == bindparam("ticket_id"))
    .order_by(subscribers_table.c.added_at)
)
_WATCHED = (tickets, subscribers_table)
_PATCHING: set[int] = set()  # ids of statements whose callers patch the cache themselves


def patching(statement: Any) -> Any:
    """Mark a write whose caller patches the cache with what it wrote (`patch`, `subscribed`)."""
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
    cache[("subscribers", ticket_id)] = []  # a new ticket has none yet


def subscribers(conn: Connection, ticket_id: int) -> list[Any]:
    """The ticket's subscribers (requester and watchers), oldest first."""
    cache = _caches.get(conn)
    key = ("subscribers", ticket_id)
    if cache is not None and key in cache:
        return list(cache[key])
    found = [SimpleNamespace(**r._mapping) for r in conn.execute(_SUBSCRIBERS, {"ticket_id": ticket_id})]
    if cache is not None:
        cache[key] = found
    return list(found)


def subscribed(conn: Connection, values: dict[str, Any]) -> None:
    """A subscriber row was just inserted with `values`."""
    cache = _caches.get(conn)
    key = ("subscribers", values["ticket_id"])
    if cache is not None and key in cache:
        cache[key] = [*cache[key], SimpleNamespace(**values)]


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
    if isinstance(clause, UpdateBase) and clause.table in _WATCHED and not patched_by_caller:
        forget(conn)


@event.listens_for(Engine, "rollback_savepoint")
def _on_rollback_savepoint(conn: Connection, name: Any, context: Any) -> None:
    forget(conn)


@event.listens_for(Engine, "rollback")
def _on_rollback(conn: Connection) -> None:
    forget(conn)
