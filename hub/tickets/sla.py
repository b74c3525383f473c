"""SLA clocks in business time.

Two clocks per ticket: first response (creation -> first agent response) and resolution, which
pauses while the ticket waits on the requester, stops on resolve and resumes on reopen. The state
lives in tickets.sla (schemas/ticket.schema.json $defs/sla). After every change the clock is
reconciled from the ticket's current status, so the rules are in one place and a replayed or
concurrent change cannot leave it half-updated. `check_due` (scheduler) looks only at tickets in
sla_timers whose next warning or breach instant has come.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from hub import clock
from hub.store import deferred
from hub.store.db import write
from hub.store.tables import sla_timers, ticket_metrics
from hub.tickets import rows
from hub.tickets.calendar import BusinessCalendar
from hub.tickets.desk_config import DeskConfig, Policy
from hub.tickets.service import update_ticket, write_history

if TYPE_CHECKING:
    from hub.runtime import Hub

METRICS = ("first_response", "resolution")
TOLERANCE = 0.5  # seconds: float rounding between add() and working_seconds() never delays a breach


def _phase(status: str) -> str:
    if status == "waiting_on_requester":
        return "paused"
    if status in ("resolved", "closed", "cancelled"):
        return "stopped"
    return "running"


def _ts(value: Any) -> datetime | None:
    return clock.parse(value) if value else None


def policy_for(desk: DeskConfig, row: Any, seed: str | None, pinned: bool) -> Policy | None:
    """A rule's choice wins; duplicates have none (the original carries it); then the first policy
    covering the queue; then the default."""
    if pinned and seed in desk.policies:
        return desk.policies[seed or ""]
    if row.duplicate_of_id:
        return None
    for policy in desk.policies.values():
        if row.queue and row.queue in policy.queues:
            return policy
    return desk.policies.get(desk.default_policy or "")


def _fresh(row: Any, seed: dict[str, Any]) -> dict[str, Any]:
    return {
        "policy": seed.get("policy"),
        "pinned": bool(seed.get("pinned")),
        "calendar": None,
        "state": "running",
        "running_since": clock.isoformat(row.created_at),
        "resolution_elapsed": 0.0,
        "paused_since": None,
        "first_response_elapsed": None,
        "warned": [],
        "breached": [],
        "breached_at": {},
        "reopened": 0,
        "targets": {},
    }


def advance(desk: DeskConfig, row: Any, prev: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The clock state after the ticket reached its current status at `now` (pure)."""
    prev = prev or {}
    sla = {**prev, "warned": list(prev.get("warned", [])), "breached": list(prev.get("breached", []))}
    if "state" not in prev:
        sla = _fresh(row, prev)
    sla["breached_at"] = dict(sla.get("breached_at") or {})
    policy = policy_for(desk, row, sla["policy"], sla["pinned"])
    calendar_name = policy.calendar if policy else desk.default_calendar.name
    if sla["calendar"] not in (None, calendar_name) and sla["state"] == "running":
        _fold(sla, desk.calendar(sla["calendar"]), now)  # time so far counts in the old calendar
    sla["policy"], sla["calendar"] = (policy.name if policy else None), calendar_name
    cal = desk.calendar(calendar_name)
    old, new = sla["state"], _phase(row.status)
    if old == "running" and new != "running":
        _fold(sla, cal, now)
        sla["running_since"] = None
    elif old != "running" and new == "running":
        sla["running_since"] = clock.isoformat(now)
    if old == "stopped" and new != "stopped":
        sla["reopened"] = int(sla.get("reopened", 0)) + 1
    sla["paused_since"] = (sla.get("paused_since") or clock.isoformat(now)) if new == "paused" else None
    sla["state"] = new
    if row.first_response_at is not None and sla.get("first_response_elapsed") is None:
        sla["first_response_elapsed"] = cal.working_seconds(row.created_at, row.first_response_at)
    _schedule(sla, cal, row, policy)
    return sla


def _fold(sla: dict[str, Any], cal: BusinessCalendar, now: datetime) -> None:
    since = _ts(sla.get("running_since"))
    if since is not None:
        sla["resolution_elapsed"] = float(sla.get("resolution_elapsed", 0.0)) + cal.working_seconds(since, now)
        sla["running_since"] = clock.isoformat(now)


def _schedule(sla: dict[str, Any], cal: BusinessCalendar, row: Any, policy: Policy | None) -> None:
    targets = policy.for_priority(row.priority) if policy else None
    first = targets.first_response if targets else None
    resolution = targets.resolution if targets else None
    warn = policy.warn_at if policy else 0.8
    sla["targets"] = {"first_response": first, "resolution": resolution}
    sla["first_response_due_at"] = clock.isoformat(cal.add(row.created_at, first)) if first is not None else None
    pending = first is not None and sla.get("first_response_elapsed") is None
    warn_at = cal.add(row.created_at, first * warn) if first is not None and pending else None
    sla["first_response_warn_at"] = clock.isoformat(warn_at) if warn_at else None
    since = _ts(sla.get("running_since"))
    if resolution is not None and since is not None and sla["state"] == "running":
        used = float(sla["resolution_elapsed"])
        sla["resolution_due_at"] = clock.isoformat(cal.add(since, max(0.0, resolution - used)))
        sla["resolution_warn_at"] = clock.isoformat(cal.add(since, max(0.0, resolution * warn - used)))
    else:
        sla["resolution_due_at"] = sla["resolution_warn_at"] = None


def _used(sla: dict[str, Any], metric: str, cal: BusinessCalendar, row: Any, now: datetime) -> tuple[float, bool]:
    """(business seconds used so far, whether this clock has ended for good)."""
    if metric == "first_response":
        if sla.get("first_response_elapsed") is not None:
            return float(sla["first_response_elapsed"]), True
        return cal.working_seconds(row.created_at, now), False
    used = float(sla.get("resolution_elapsed", 0.0))
    since = _ts(sla.get("running_since"))
    if sla["state"] == "running" and since is not None:
        used += cal.working_seconds(since, now)
    return used, sla["state"] == "stopped"


@dataclass
class Alert:
    kind: str  # sla_warning | sla_breach
    metric: str
    due_at: str | None
    used: float  # share of the target


def evaluate(desk: DeskConfig, row: Any, sla: dict[str, Any], now: datetime) -> list[Alert]:
    """Record warnings and breaches that have come due in `sla`; returns the new ones."""
    cal = desk.calendar(sla.get("calendar"))
    policy = desk.policies.get(sla.get("policy") or "")
    warn = policy.warn_at if policy else 0.8
    alerts = []
    for metric in METRICS:
        target = (sla.get("targets") or {}).get(metric)
        if target is None or metric in sla["breached"]:
            continue
        used, ended = _used(sla, metric, cal, row, now)
        share = used / target if target else 1.0
        due = sla.get(f"{metric}_due_at")
        if used > target if ended else used >= target - TOLERANCE:
            sla["breached"].append(metric)
            when = min(now, _ts(due) or now)
            sla["breached_at"][metric] = clock.isoformat(when)
            alerts.append(Alert("sla_breach", metric, due, share))
        elif not ended and metric not in sla["warned"] and used >= target * warn - TOLERANCE:
            sla["warned"].append(metric)
            alerts.append(Alert("sla_warning", metric, due, share))
    return alerts


def next_check(sla: dict[str, Any]) -> datetime | None:
    """The next instant a warning or a breach can come due; None: nothing pending."""
    instants = []
    for metric in METRICS:
        if (sla.get("targets") or {}).get(metric) is None or metric in sla.get("breached", []):
            continue
        pending = sla.get("first_response_elapsed") is None if metric == "first_response" else sla["state"] == "running"
        if not pending:
            continue
        key = f"{metric}_due_at" if metric in sla.get("warned", []) else f"{metric}_warn_at"
        if sla.get(key):
            instants.append(clock.parse(sla[key]))
    return min(instants) if instants else None


def reconcile(conn: Connection, hub: Hub, ticket_id: int, now: datetime, *, new: bool = False) -> list[Alert]:
    """Bring one ticket's clocks, timer and metrics up to date; record and announce alerts.
    `new`: the ticket was just created (its stored clock has no timer yet)."""
    desk = hub.config.desk
    row = rows.load(conn, ticket_id)
    if row is None:
        return []
    sla = advance(desk, row, row.sla, now)
    alerts = evaluate(desk, row, sla, now)
    if sla != row.sla:
        update_ticket(conn, ticket_id, {"sla": sla}, bump=False)
    reschedule(conn, ticket_id, None if new else row.sla, sla)
    _metrics(conn, row, sla)
    if alerts:
        from hub.tickets import notify

        for alert in alerts:
            _history(conn, ticket_id, now, alert)
            if sla["state"] != "stopped":
                notify.queue_alert(conn, hub, row, alert, sla, now)
    return alerts


def reschedule(conn: Connection, ticket_id: int, stored: dict[str, Any] | None, sla: dict[str, Any]) -> None:
    """`sla` replaces the clock `stored` (None: the ticket has no timer yet). sla_timers holds
    the next check of the stored clock; whoever writes a clock moves the timer with it."""
    due = next_check(sla)
    if due != _scheduled(stored):
        _timer(conn, ticket_id, due)


def _scheduled(stored: dict[str, Any] | None) -> datetime | None:
    return next_check(stored) if stored and "state" in stored else None


def _history(conn: Connection, ticket_id: int, now: datetime, alert: Alert) -> None:
    action = "sla_breached" if alert.kind == "sla_breach" else "sla_warning"
    line = {"ticket_id": ticket_id, "at": now, "actor": "sla", "action": action, "field": alert.metric}
    write_history(conn, [{**line, "new": alert.due_at}])


@cache
def _upsert_statement(dialect_name: str, table: Table, columns: tuple[str, ...]) -> Insert:
    """INSERT ... ON CONFLICT (ticket_id) DO UPDATE of `columns`, built once per table."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=["ticket_id"], set_={name: statement.excluded[name] for name in columns}
    )


def _upsert(conn: Connection, table: Table, values: dict[str, Any], *, defer: bool = False) -> None:
    columns = tuple(k for k in values if k != "ticket_id")
    statement = _upsert_statement(conn.dialect.name, table, columns)
    if defer:  # the report metrics: nothing reads them inside a change
        deferred.execute(conn, statement, [values], key="ticket_id")
    else:
        conn.execute(statement, values)


_DELETE_TIMER = delete(sla_timers).where(sla_timers.c.ticket_id == bindparam("ticket_id"))


def _timer(conn: Connection, ticket_id: int, at: datetime | None) -> None:
    if at is None:
        conn.execute(_DELETE_TIMER, {"ticket_id": ticket_id})
    else:
        _upsert(conn, sla_timers, {"ticket_id": ticket_id, "next_check_at": at})


def _metrics(conn: Connection, row: Any, sla: dict[str, Any]) -> None:
    targets = sla.get("targets") or {}
    breached = sla.get("breached", [])
    first = sla.get("first_response_elapsed")
    final = row.status in ("resolved", "closed") and sla["state"] == "stopped"
    final_at = row.resolved_at or row.closed_at
    _upsert(
        conn,
        ticket_metrics,
        {
            "ticket_id": row.id,
            "created_at": row.created_at,
            "finished_at": (final_at or row.updated_at) if sla["state"] == "stopped" else None,
            "queue": row.queue,
            "channel": row.channel,
            "category": row.category,
            "priority": row.priority,
            "type": row.type,
            "first_response_seconds": first,
            "resolution_seconds": float(sla["resolution_elapsed"]) if final else None,
            "lead_seconds": (final_at - row.created_at).total_seconds() if final and final_at else None,
            "first_response_met": _met(targets.get("first_response"), "first_response" in breached, first is not None),
            "resolution_met": _met(targets.get("resolution"), "resolution" in breached, final),
            "reopens": int(sla.get("reopened", 0)),
        },
        defer=True,
    )


def _met(target: float | None, breached: bool, decided: bool) -> bool | None:
    if target is None:
        return None
    if breached:
        return False
    return True if decided else None


@dataclass
class CheckReport:
    checked: int = 0
    warnings: int = 0
    breaches: int = 0


def check_due(hub: Hub, limit: int = 500) -> CheckReport:
    """Scheduler job: warn and record breaches for tickets whose next check has come."""
    report = CheckReport()
    now = clock.now()
    with write(hub.engine) as conn:
        ids = (
            conn.execute(
                select(sla_timers.c.ticket_id)
                .where(sla_timers.c.next_check_at <= now)
                .order_by(sla_timers.c.next_check_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        for ticket_id in ids:
            report.checked += 1
            for alert in reconcile(conn, hub, int(ticket_id), now):
                report.warnings += alert.kind == "sla_warning"
                report.breaches += alert.kind == "sla_breach"
    return report
