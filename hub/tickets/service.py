"""Every change to a ticket goes through these functions, inside the caller's transaction, so a
ticket, its history and the outbox rows it causes are committed together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, Update

from hub.store import deferred, direct
from hub.store.tables import comments, subscribers, ticket_history, ticket_refs, tickets
from hub.tickets import rows

OPEN_STATUSES = ("new", "triaged", "assigned", "in_progress", "waiting_on_requester")
FINAL_STATUSES = ("resolved", "closed", "cancelled")
UPDATABLE_FIELDS = ("title", "priority", "category", "queue", "assignee", "tags", "attributes", "type")


class RefTaken(Exception):
    """A ref only this new ticket may hold (its source id, its raw event) already points at a
    ticket: the same ticket was created concurrently."""


@dataclass
class Actor:
    """Who caused a change: a connector instance, an API token's owner, the system."""

    name: str
    inbox_id: int | None = None
    email: str | None = None
    instance: str | None = None  # the connector instance whose inbox event this is


@dataclass
class Change:
    ticket_id: int
    action: str  # created | commented | status | updated
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # the comment just added: its columns and id, and via_instance (the instance it came through)
    comment: Any = None
    status_note: bool = False  # the note of a status change, announced with the status

    @property
    def public(self) -> bool:
        return self.comment is not None and bool(self.comment.public)


# Listeners (notifications, SLA clocks, workflows) run inside the same transaction.
Listener = Callable[[Connection, Change, datetime], None]
listeners: list[Listener] = []


@dataclass
class Draft:
    """A ticket about to be created. Preparers (routing) may change its fields and add history
    lines (actor name, action, changes) that are written with the new ticket."""

    data: dict[str, Any]
    instance: str
    channel: str
    history: list[tuple[str, str, dict[str, tuple[Any, Any]]]] = field(default_factory=list)


Preparer = Callable[[Connection, Draft, datetime], None]
preparers: list[Preparer] = []

UpdatePreparer = Callable[[Connection, Any, dict[str, Any], datetime], None]
update_preparers: list[UpdatePreparer] = []
"""Called with (conn, the ticket as the update will leave it, the values to write, now) before a
change (status, fields, comment) writes its UPDATE; they may add values. The desk adds the SLA
clock advanced to `now`, so the listener's reconcile finds nothing left to write: one UPDATE per
change instead of two."""


def _notify(conn: Connection, change: Change, now: datetime) -> None:
    for listener in listeners:
        listener(conn, change, now)


def _history_lines(
    ticket_id: int, actor: Actor, now: datetime, action: str, changes: dict[str, tuple[Any, Any]] | None = None
) -> list[dict[str, Any]]:
    base = {"ticket_id": ticket_id, "at": now, "actor": actor.name, "action": action, "inbox_id": actor.inbox_id}
    if not changes:
        return [{**base, "field": None, "old": None, "new": None}]
    return [{**base, "field": name, "old": old, "new": new} for name, (old, new) in changes.items()]


def _history(
    conn: Connection,
    ticket_id: int,
    actor: Actor,
    now: datetime,
    action: str,
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> None:
    write_history(conn, _history_lines(ticket_id, actor, now, action, changes))


def write_history(conn: Connection, lines: list[dict[str, Any]]) -> None:
    """History lines (ticket_id, at, actor, action; field, old, new, inbox_id may be left out).
    Nothing reads history inside a change, so the worker writes a batch's lines at once."""
    deferred.execute(conn, _INSERT_HISTORY, [{**_HISTORY_BLANK, **line} for line in lines])


_HISTORY_BLANK = {"field": None, "old": None, "new": None, "inbox_id": None}


# The hot statements are built once: constructing and cache-keying a Core statement per call cost
# ~5x executing it (bench/README.md). Values travel as parameters.
_INSERT_HISTORY = insert(ticket_history)
_INSERT_TICKET = rows.patching(insert(tickets).returning(tickets.c.id))  # cached by `remember`
_INSERT_TICKET_WITH_ID = rows.patching(insert(tickets))  # id from rows.next_ticket_id; cached by `remember`
_INSERT_COMMENT = insert(comments).returning(comments.c.id)
_SET_NUMBER = rows.patching(
    update(tickets).where(tickets.c.id == bindparam("ticket_id")).values(number=bindparam("v_number"))
)  # a new ticket is in no cache yet


@cache
def _insert_ignore_statement(dialect_name: str, table: Table) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


@cache
def ticket_update(columns: tuple[str, ...], bump: bool = True) -> Update:
    """UPDATE tickets SET <columns> (parameters `v_<column>`) WHERE id = :ticket_id, and with
    `bump` also version + 1: one statement per column set, built on first use."""
    values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns}
    if bump:
        values["version"] = tickets.c.version + 1
    return rows.patching(update(tickets).where(tickets.c.id == bindparam("ticket_id")).values(values))


def _update_for_change(conn: Connection, row: Any, values: dict[str, Any], now: datetime) -> None:
    """A change's UPDATE of the ticket `row` was read as, with what the update preparers add."""
    current = vars(row) if isinstance(row, SimpleNamespace) else dict(row._mapping)
    after = SimpleNamespace(**{**current, **values})
    for prepare in update_preparers:
        prepare(conn, after, values, now)
    update_ticket(conn, row.id, values)


def update_ticket(conn: Connection, ticket_id: int, values: dict[str, Any], *, bump: bool = True) -> None:
    names = tuple(sorted(values))
    direct.execute(conn, ticket_update(names, bump), {"ticket_id": ticket_id, **{f"v_{n}": values[n] for n in names}})
    rows.patch(conn, ticket_id, values, bump=bump)


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was inserted. (RETURNING, because
    rowcount is not reliable for this statement on every driver.)"""
    return conn.execute(_insert_ignore_statement(conn.dialect.name, table), values).first() is not None


def add_ref(conn: Connection, kind: str, scope: str, key: str, ticket_id: int) -> bool:
    """False when the key already points at a ticket (this one or another)."""
    return not add_refs(conn, [(kind, scope, key)], ticket_id)


def add_refs(conn: Connection, refs: list[tuple[str, str, str]], ticket_id: int) -> set[tuple[str, str, str]]:
    """Several (kind, scope, key) refs in one statement; returns those that already pointed at a
    ticket."""
    if not refs:
        return set()
    refs = list(dict.fromkeys(refs))

    def values(chosen: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        return [{"kind": kind, "scope": scope, "key": key, "ticket_id": ticket_id} for kind, scope, key in chosen]

    known = rows.refs_lookup(conn, refs)
    if known is not None and deferred.active(conn):
        # The worker's batch read these refs ahead: which are taken is known, and the new ones are
        # written with the batch. Should another transaction add one meanwhile, the plain INSERT
        # fails the batch, which then runs again one savepoint per event (and this path is off).
        taken = {ref for ref, owner in known.items() if owner is not None}
        new = [ref for ref in refs if ref not in taken]
        deferred.execute(conn, _INSERT_REFS, values(new))
        rows.referenced(conn, new, ticket_id, ())
        return taken
    added = {(r.kind, r.scope, r.key) for r in conn.execute(_add_refs_statement(conn.dialect.name), values(refs))}
    taken = {ref for ref in refs if ref not in added}
    rows.referenced(conn, added, ticket_id, taken)
    return taken


_INSERT_REFS = rows.patching(insert(ticket_refs))  # deferred: the caller patched the cache


@cache
def _add_refs_statement(dialect_name: str) -> Insert:
    """The insert-ignore of refs, marked as patching the cache: add refs only through `add_refs`."""
    return rows.patching(_insert_ignore_statement(dialect_name, ticket_refs))


_FIND_REF = (
    select(ticket_refs.c.ticket_id)
    .where(
        ticket_refs.c.kind == bindparam("kind"),
        ticket_refs.c.scope == bindparam("scope"),
        ticket_refs.c.key.in_(bindparam("keys", expanding=True)),
    )
    .order_by(ticket_refs.c.ticket_id.desc())
    .limit(1)
)


def find_ref(conn: Connection, kind: str, scope: str, keys: list[str]) -> int | None:
    """The newest ticket any of the keys leads to."""
    if not keys:
        return None
    known = rows.refs_known(conn, [(kind, scope, key) for key in keys])
    if known is not None:
        return max(known, default=None)
    row = conn.execute(_FIND_REF, {"kind": kind, "scope": scope, "keys": list(keys)}).first()
    return int(row[0]) if row else None


def add_subscriber(
    conn: Connection,
    ticket_id: int,
    address: str,
    now: datetime,
    *,
    name: str | None = None,
    channel: str | None = None,
    role: str = "watcher",
) -> bool:
    values = {
        "ticket_id": ticket_id,
        "address": address.strip().lower(),
        "name": name,
        "channel": channel,
        "role": role,
        "added_at": now,
    }
    if rows.active(conn) and deferred.active(conn):
        # In the worker's batch the cache holds the ticket's subscribers: the row is written with
        # the batch (a plain INSERT: a concurrent add of the same address fails the batch, which
        # then runs again one savepoint per event).
        added = all(s.address != values["address"] for s in rows.subscribers(conn, ticket_id))
        if added:
            deferred.execute(conn, _INSERT_SUBSCRIBER, [values])
    else:
        added = conn.execute(_add_subscriber_statement(conn.dialect.name), values).first() is not None
    if added:
        rows.subscribed(conn, values)
    return added


_INSERT_SUBSCRIBER = rows.patching(insert(subscribers))  # deferred: the caller patches the cache


@cache
def _add_subscriber_statement(dialect_name: str) -> Insert:
    """The insert-ignore of subscribers, marked as patching the row cache: add subscribers only
    through `add_subscriber`, which does."""
    return rows.patching(_insert_ignore_statement(dialect_name, subscribers))


def _insert_ticket(conn: Connection, row: dict[str, Any], prefix: str, now: datetime) -> int:
    """Insert with its number (`<prefix>-<year>-<id>`, so it needs the id)."""
    ticket_id = rows.next_ticket_id(conn)
    if ticket_id is not None:  # known before the insert: the number goes in with it
        number = _number(prefix, now, ticket_id)
        direct.execute(conn, _INSERT_TICKET_WITH_ID, {**row, "id": ticket_id, "number": number})
    else:
        ticket_id = int(conn.execute(_INSERT_TICKET, row).scalar_one())
        number = _number(prefix, now, ticket_id)
        conn.execute(_SET_NUMBER, {"ticket_id": ticket_id, "v_number": number})
    rows.remember(conn, ticket_id, {**row, "number": number})
    return ticket_id


def _number(prefix: str, now: datetime, ticket_id: int) -> str:
    return f"{prefix}-{now.year}-{ticket_id:06d}"


def create_ticket(
    conn: Connection,
    data: dict[str, Any],
    *,
    instance: str,
    connector: str,
    channel: str,
    prefix: str,
    actor: Actor,
    now: datetime,
    external_id: str | None = None,
    thread_refs: list[str] | None = None,
    origin: str | None = None,
) -> int:
    """`origin`: the dedup key of the raw event creating the ticket, kept so that a replay of the
    event finds this ticket. Raises RefTaken when the external id or the origin has a ticket."""
    draft = Draft(dict(data), instance, data.get("channel", channel))
    for prepare in preparers:
        prepare(conn, draft, now)
    data = draft.data
    requester = dict(data.get("requester") or {})
    requester.setdefault("kind", "unknown")
    source = {
        "instance": instance,
        "connector": connector,
        "external_id": external_id,
        "external_url": data.get("external_url"),
        "thread_refs": list(thread_refs or []),
    }
    status = data.get("status", "new")
    row = {
        "type": data.get("type", "service_request"),
        "title": data["title"],
        "description": data.get("description", ""),
        "description_html": data.get("description_html"),
        "status": status,
        "priority": data.get("priority", "normal"),
        "category": data.get("category"),
        "queue": data.get("queue"),
        "assignee": data.get("assignee"),
        "channel": data.get("channel", channel),
        "requester": requester,
        "requester_email": (requester.get("email") or "").lower() or None,
        "source": source,
        "source_instance": instance,
        "location": data.get("location"),
        "attachments": data.get("attachments", []),
        "tags": sorted(set(data.get("tags", []))),
        "attributes": data.get("attributes", {}),
        "sla": data.get("sla"),
        "created_at": now,
        "updated_at": now,
        "resolved_at": now if status == "resolved" else None,
        "closed_at": now if status == "closed" else None,
        "version": 1,
    }
    ticket_id = _insert_ticket(conn, row, prefix, now)
    own = [("external", instance, external_id)] if external_id else []
    own += [("event", instance, origin)] if origin else []
    taken = add_refs(conn, [*own, *(("thread", "", ref) for ref in thread_refs or [])], ticket_id)
    for kind, _scope, key in own:
        if (kind, instance, key) in taken:
            what = "external id" if kind == "external" else "event"
            raise RefTaken(f"{what} {key!r} of {instance!r} already has a ticket")
    if requester.get("email"):
        add_subscriber(
            conn, ticket_id, requester["email"], now, name=requester.get("name"), channel=channel, role="requester"
        )
    for sub in data.get("subscribers", []):
        add_subscriber(
            conn,
            ticket_id,
            sub["address"],
            now,
            name=sub.get("name"),
            channel=sub.get("channel"),
            role=sub.get("role", "watcher"),
        )
    lines = _history_lines(ticket_id, actor, now, "created", {"status": (None, status)})
    for name, action, changes in draft.history:
        lines += _history_lines(ticket_id, Actor(name, actor.inbox_id), now, action, changes)
    write_history(conn, lines)
    _notify(conn, Change(ticket_id, "created", {"status": (None, status)}), now)
    return ticket_id


def _load(conn: Connection, ticket_id: int) -> Any:
    row = rows.load(conn, ticket_id)
    if row is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    return row


def _status_values(old: str, new: str, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": new}
    if new == "resolved":
        values["resolved_at"] = now
    elif new == "closed":
        values["closed_at"] = now
    elif old in FINAL_STATUSES and new in OPEN_STATUSES:
        values.update(resolved_at=None, closed_at=None)
    return values


def change_status(
    conn: Connection, ticket_id: int, status: str, *, actor: Actor, now: datetime, note: str | None = None
) -> bool:
    """Set the status; False (and nothing written) when it already has it."""
    row = _load(conn, ticket_id)
    if row.status == status:
        return False
    values = _status_values(row.status, status, now)
    if row.first_response_at is None and status not in ("new", "triaged"):
        values["first_response_at"] = now
    _update_for_change(conn, row, {**values, "updated_at": now}, now)
    _history(conn, ticket_id, actor, now, "status", {"status": (row.status, status)})
    if note:
        add_comment(
            conn,
            ticket_id,
            {"body": note, "public": True, "author": {"name": actor.name}},
            actor=actor,
            now=now,
            from_requester=False,
            status_note=True,
        )
    _notify(conn, Change(ticket_id, "status", {"status": (row.status, status)}), now)
    return True


def update_fields(
    conn: Connection, ticket_id: int, fields: dict[str, Any], *, actor: Actor, now: datetime
) -> dict[str, tuple[Any, Any]]:
    """Apply changed fields only; returns what changed (empty: nothing written)."""
    row = _load(conn, ticket_id)
    changes = {}
    for name, value in fields.items():
        if name not in UPDATABLE_FIELDS:
            raise ValueError(f"field {name!r} cannot be updated")
        if name == "tags":
            value = sorted(set(value))
        if name == "attributes":
            value = {**(row.attributes or {}), **value}
        if getattr(row, name) != value:
            changes[name] = (getattr(row, name), value)
    if not changes:
        return {}
    values = {name: new for name, (_old, new) in changes.items()}
    if "assignee" in changes and row.status in ("new", "triaged") and values["assignee"]:
        values["status"] = "assigned"
        changes["status"] = (row.status, "assigned")
    _update_for_change(conn, row, {**values, "updated_at": now}, now)
    _history(conn, ticket_id, actor, now, "updated", changes)
    _notify(conn, Change(ticket_id, "updated", changes), now)
    return changes


def apply_update(
    conn: Connection, ticket_id: int, data: dict[str, Any], *, actor: Actor, now: datetime, note: str | None = None
) -> None:
    """A ticket document's updatable fields, then its status (with `note`), as a source that sends
    the whole ticket again or an API PATCH gives them; other keys are left alone."""
    fields = {k: v for k, v in data.items() if k in UPDATABLE_FIELDS}
    if fields:
        update_fields(conn, ticket_id, fields, actor=actor, now=now)
    if "status" in data:
        change_status(conn, ticket_id, data["status"], actor=actor, now=now, note=note)


def add_comment(
    conn: Connection,
    ticket_id: int,
    data: dict[str, Any],
    *,
    actor: Actor,
    now: datetime,
    from_requester: bool,
    status_note: bool = False,
) -> int:
    """Add a comment. A requester writing on a resolved or waiting ticket re-opens it."""
    row = _load(conn, ticket_id)
    public = bool(data.get("public", True))
    comment = {
        "ticket_id": ticket_id,
        "at": now,
        "author": data.get("author") or {"name": actor.name},
        "body": data["body"],
        "body_html": data.get("body_html"),
        "public": public,
        "attachments": data.get("attachments", []),
        "inbox_id": actor.inbox_id,
    }
    comment_id = int(direct.execute(conn, _INSERT_COMMENT, comment)[0][0])
    values: dict[str, Any] = {"updated_at": now}
    changes: dict[str, tuple[Any, Any]] = {}
    if from_requester and row.status in ("resolved", "waiting_on_requester"):
        new_status = "in_progress" if row.assignee else "new"
        values.update(_status_values(row.status, new_status, now))
        changes["status"] = (row.status, new_status)
    elif not from_requester and public and row.first_response_at is None:
        values["first_response_at"] = now
    _update_for_change(conn, row, values, now)
    lines = _history_lines(ticket_id, actor, now, "commented", {"comment": (None, comment_id)})
    if changes:
        lines += _history_lines(ticket_id, actor, now, "reopened", changes)
    write_history(conn, lines)
    added = SimpleNamespace(**comment, id=comment_id, via_instance=actor.instance)
    _notify(conn, Change(ticket_id, "commented", changes, comment=added, status_note=status_note), now)
    return comment_id


def is_party(conn: Connection, ticket_id: int, address: str | None) -> bool:
    """Whether `address` is the requester or a subscriber of the ticket (may write into it)."""
    if not address:
        return False
    address = address.strip().lower()
    return any(s.address == address for s in rows.subscribers(conn, ticket_id))
