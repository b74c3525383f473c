"""The service desk behaviour every ticket change triggers, in one fixed order, inside the change's
transaction: routing before a new ticket is stored; then duplicate detection, SLA clocks and
metrics, requester updates, and finally what a resolved original means for its duplicates.

Hooked into hub.tickets.service once per process; the settings come from the Hub built over the
connection's engine, so the worker, the CLI and the web layer all behave the same.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from hub.runtime import hub_for
from hub.tickets import service
from hub.tickets.desk_config import DeskConfig
from hub.tickets.routing import Candidate, route

if TYPE_CHECKING:
    from hub.runtime import Hub


def install() -> None:
    """Register the preparers and the listener once per process."""
    if prepare not in service.preparers:
        service.preparers.append(prepare)
    if prepare_update not in service.update_preparers:
        service.update_preparers.append(prepare_update)
    if on_change not in service.listeners:
        service.listeners.append(on_change)


def _hub(conn: Connection) -> Hub | None:
    return hub_for(conn.engine)


def prepare(conn: Connection, draft: service.Draft, now: datetime) -> None:
    """Route a new ticket, then start its SLA clock."""
    hub = _hub(conn)
    if hub is None:
        return
    desk: DeskConfig = hub.config.desk
    if desk.triage_queue is not None or desk.rules:
        _route(desk, draft, now)
    _start_clock(desk, draft, now)


def prepare_update(conn: Connection, after: Any, values: dict[str, Any], now: datetime) -> None:
    """A change's UPDATE carries the SLA clock advanced to `now` (as `_start_clock` does for a new
    ticket): the reconcile that follows finds it current and writes nothing more."""
    hub = _hub(conn)
    if hub is None or "sla" in values:
        return
    from hub.tickets import sla

    advanced = sla.advance(hub.config.desk, after, after.sla, now)
    if advanced != after.sla:
        values["sla"] = advanced
        sla.reschedule(conn, after.id, after.sla, advanced)


def _start_clock(desk: DeskConfig, draft: service.Draft, now: datetime) -> None:
    """The clock a new ticket starts with goes in with its INSERT: reconciling it right after
    finds nothing to change, one UPDATE less per new ticket. (Linked as a duplicate, it changes.)"""
    from hub.tickets import sla

    data = draft.data
    status = data.get("status", "new")
    ticket = SimpleNamespace(
        created_at=now,
        status=status,
        priority=data.get("priority", "normal"),
        queue=data.get("queue"),
        first_response_at=None,
        duplicate_of_id=None,
    )
    data["sla"] = sla.advance(desk, ticket, data.get("sla"), now)


def _route(desk: DeskConfig, draft: service.Draft, now: datetime) -> None:
    """Rules set queue, priority, ...; history says which rule and what."""
    candidate = Candidate(draft.data, draft.instance, draft.channel, now)
    decision = route(desk.rules, candidate, desk.triage_queue)
    if decision.sla_policy:
        draft.data["sla"] = {"policy": decision.sla_policy, "pinned": True}
    changes = dict(decision.changes)
    if decision.sla_policy:
        changes["sla_policy"] = (None, decision.sla_policy)
    who = ",".join([*decision.matched, *(["triage"] if decision.triaged else [])])
    changes["rule"] = (None, who)
    draft.history.append((f"routing:{who}", "routed", changes))


def on_change(conn: Connection, change: service.Change, now: datetime) -> None:
    hub = _hub(conn)
    if hub is None:
        return
    from hub.tickets import duplicates, notify, sla

    desk: DeskConfig = hub.config.desk
    if change.action == "created":
        duplicates.link_if_duplicate(conn, desk, change.ticket_id, now)
    sla.reconcile(conn, hub, change.ticket_id, now, new=change.action == "created")
    notify.on_change(conn, hub, change, now)
    duplicates.on_change(conn, desk, change, now)
