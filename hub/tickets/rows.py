"""One read of a ticket row (and of its subscribers, and of the refs that lead to it) per batch
or per change instead of one per listener.

Applying one event used to read the same ticket row four or five times (the service, the SLA
clock, duplicate detection, notifications, follow-ups) and its subscribers three times. Inside
`cached(conn)` (the worker's batch) each is read once and shared. The service's own writes
(`patching` statements) patch the cache with the values they wrote; any other write to the
tickets or subscribers table, and any rollback, empties the whole cache, so a reader never sees
anything older than the database. Outside `cached`, reads go to the database.

The worker also reads ahead (`prefetch`): the refs its batch's events will be correlated by, and
the rows of the tickets they lead to and whether they have duplicates, one query per ref kind and
scope and two for the tickets, instead of look-ups per event. A ref read and not found is cached
as absent; the service's inserts of refs patch the cache (`referenced`). On PostgreSQL the rows
a batch reads are locked until it commits (`_LOAD_LOCKED`), so what it decides from them is not
based on a state another worker has changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, Connection, bindparam, event, func, select, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import UpdateBase

from hub import jsonutil
from hub.store import direct
from hub.store.tables import subscribers as subscribers_table
from hub.store.tables import ticket_refs, tickets

# Per connection, not in conn.info: that would reach for the DBAPI connection, which is gone when
# the rollback of an invalidated connection (database outage) tells us to forget.
# Keys: a ticket id (its row), ("subscribers", ticket id) (its subscribers, oldest first),
# ("ref", kind, scope, key) (the ticket id the ref leads to, None when there is no such ref),
# "next_ticket_id" (SQLite: the id the next new ticket gets), ("has_duplicates", ticket id)
# (whether any ticket is marked a duplicate of it). A plain dict, not a WeakKeyDictionary (a weak
# reference made per look-up, ~1% of the worker's time): `cached` always removes its entry.
_caches: dict[Connection, dict[Any, Any]] = {}
_LOAD = select(tickets).where(tickets.c.id == bindparam("ticket_id"))
_SUBSCRIBERS = (
    select(subscribers_table)
    .where(subscribers_table.c.ticket_id == bindparam("ticket_id"))
    .order_by(subscribers_table.c.added_at, subscribers_table.c.address)
)
# Inside a worker batch a ticket row is read to decide a change the batch writes at the end: on
# PostgreSQL, where workers run side by side, the read locks the row until the batch commits, so
# another worker cannot change the ticket in between and have its change overwritten (a lost
# update). Read ahead in id order, so two batches take their locks in the same order. SQLite has
# one writer and renders no FOR UPDATE.
_LOAD_LOCKED = _LOAD.with_for_update()
_MAX_TICKET_ID = select(func.coalesce(func.max(tickets.c.id), 0))
_WATCHED = (tickets, subscribers_table, ticket_refs)
Ref = tuple[str, str, str]  # (kind, scope, key)
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
    if cache is None:
        return conn.execute(_LOAD, {"ticket_id": ticket_id}).first()
    found = direct.records(conn, _LOAD_LOCKED, {"ticket_id": ticket_id})
    if found:
        cache[ticket_id] = found[0]
    return found[0] if found else None


@lru_cache(maxsize=len(direct.SIZES))
def _load_many(count: int) -> Any:
    """`count` tickets' rows, locked, in id order (see _LOAD_LOCKED)."""
    return select(tickets).where(tickets.c.id.in_(direct.placeholders(count))).order_by(tickets.c.id).with_for_update()


@lru_cache(maxsize=len(direct.SIZES))
def _subscribers_of(count: int) -> Any:
    """The subscribers of `count` tickets, each ticket's oldest first (as _SUBSCRIBERS)."""
    s = subscribers_table.c
    ids = direct.placeholders(count)
    return select(subscribers_table).where(s.ticket_id.in_(ids)).order_by(s.ticket_id, s.added_at, s.address)


@lru_cache(maxsize=len(direct.SIZES))
def _originals(count: int) -> Any:
    """Which of `count` tickets have a ticket marked as their duplicate."""
    ids = direct.placeholders(count)
    return select(tickets.c.duplicate_of_id).where(tickets.c.duplicate_of_id.in_(ids)).distinct()


@lru_cache(maxsize=len(direct.SIZES))
def _refs_query(count: int) -> Any:
    """`count` keys of one kind and scope, as exact primary-key look-ups joined by UNION ALL:
    PostgreSQL plans each as an index look-up whatever its statistics say. With `key IN (...)` on
    a table filling faster than autovacuum analyzed it, it took the key as a filter over every
    ref of the kind and scope, and the read-ahead slowed down as the table grew. (A row-value IN
    over all three columns has SQLite scan the table.)"""
    branches = [
        select(ticket_refs.c.key, ticket_refs.c.ticket_id).where(
            ticket_refs.c.kind == bindparam("kind"),
            ticket_refs.c.scope == bindparam("scope"),
            ticket_refs.c.key == key,
        )
        for key in direct.placeholders(count, "key")
    ]
    return branches[0] if count == 1 else union_all(*branches)


def prefetch(conn: Connection, refs: Iterable[Ref]) -> None:
    """Read `refs` into the cache, and for the tickets they lead to their rows and whether any
    ticket is marked a duplicate of them (asked when one is resolved)."""
    cache = _caches.get(conn)
    if cache is None:
        return
    wanted: dict[tuple[str, str], set[str]] = {}
    for kind, scope, key in refs:
        if ("ref", kind, scope, key) not in cache:
            wanted.setdefault((kind, scope), set()).add(key)
    found: set[int] = set()
    for (kind, scope), keys in wanted.items():
        for chunk, size, padded in direct.chunks(sorted(keys)):
            params = {"kind": kind, "scope": scope, **direct.arguments(padded, "key")}
            hits = dict(direct.select(conn, _refs_query(size), params))
            for key in chunk:
                ticket_id = hits.get(key)
                cache[("ref", kind, scope, key)] = None if ticket_id is None else int(ticket_id)
            found.update(int(t) for t in hits.values())
    for ids, size, padded_ids in direct.chunks(sorted(t for t in found if t not in cache)):
        by_id = direct.arguments(padded_ids)
        for row in direct.records(conn, _load_many(size), by_id):
            cache[row.id] = row
        originals = {original for (original,) in direct.select(conn, _originals(size), by_id)}
        subscribed: dict[int, list[Any]] = {ticket_id: [] for ticket_id in ids}
        for subscriber in direct.records(conn, _subscribers_of(size), by_id):
            subscribed[subscriber.ticket_id].append(subscriber)
        for ticket_id in ids:
            cache[("has_duplicates", ticket_id)] = ticket_id in originals
            cache[("subscribers", ticket_id)] = subscribed[ticket_id]


def has_duplicates(conn: Connection, ticket_id: int) -> bool | None:
    """Whether any ticket is marked a duplicate of this one, when the batch read it ahead (None:
    not known). Marking a duplicate is a write the service does not patch, so it empties the
    cache and this goes back to None."""
    cache = _caches.get(conn)
    return None if cache is None else cache.get(("has_duplicates", ticket_id))


def refs_lookup(conn: Connection, refs: Iterable[Ref]) -> dict[Ref, int | None] | None:
    """The ticket each of `refs` leads to (None: no ticket), from the cache; None when any of them
    is not in it."""
    cache = _caches.get(conn)
    if cache is None:
        return None
    found: dict[Ref, int | None] = {}
    for ref in refs:
        entry = ("ref", *ref)
        if entry not in cache:
            return None
        found[ref] = cache[entry]
    return found


def refs_known(conn: Connection, refs: Iterable[Ref]) -> list[int] | None:
    """The tickets `refs` lead to, from the cache; None when any of them is not in it."""
    found = refs_lookup(conn, refs)
    return None if found is None else [t for t in found.values() if t is not None]


def next_ticket_id(conn: Connection) -> int | None:
    """On SQLite inside `cached`: the id the next new ticket gets, so that its number can go into
    its INSERT (one statement less per new ticket). The batch holds SQLite's only write lock and
    every insert of a ticket goes through here, so max(id) + 1 read once stays right; any other
    write to tickets and any rollback empty the cache and it is read again. Elsewhere None: the
    database assigns the id (PostgreSQL's sequence would leave gaps in the numbers if reserved)."""
    cache = _caches.get(conn)
    if cache is None or conn.dialect.name != "sqlite":
        return None
    next_id = cache.get("next_ticket_id") or int(direct.select(conn, _MAX_TICKET_ID, {})[0][0]) + 1
    cache["next_ticket_id"] = next_id + 1
    return int(next_id)


def active(conn: Connection) -> bool:
    """Whether `conn` is inside `cached`: what the cache holds for a ticket is what it has."""
    return conn in _caches


def referenced(conn: Connection, added: Iterable[Ref], ticket_id: int, taken: Iterable[Ref]) -> None:
    """Refs were just inserted for `ticket_id`; `taken` ones already led to some ticket (maybe one
    another transaction is adding: read them again when asked)."""
    cache = _caches.get(conn)
    if cache is None:
        return
    for ref in added:
        cache[("ref", *ref)] = ticket_id
    for ref in taken:
        cache.pop(("ref", *ref), None)


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
    cache[("has_duplicates", ticket_id)] = False


def subscribers(conn: Connection, ticket_id: int) -> list[Any]:
    """The ticket's subscribers (requester and watchers), oldest first."""
    cache = _caches.get(conn)
    key = ("subscribers", ticket_id)
    if cache is not None and key in cache:
        return list(cache[key])
    found = direct.records(conn, _SUBSCRIBERS, {"ticket_id": ticket_id})
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
