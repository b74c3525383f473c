"""Intake health: notice that an instance went quiet, keeps failing, or is about to lose its
credentials or subscriptions, and say so before intake stops, not days after.

"Usually sees traffic" is judged against the same hour of the week in the previous four weeks, so
a mailbox that is quiet every night raises nothing at night, while one that is normally busy on a
Tuesday morning raises an alert when it goes silent then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from hub import clock
from hub.config import parse_duration
from hub.pipeline import circuit
from hub.pipeline.state import all_states
from hub.runtime import Hub
from hub.store.db import read, write
from hub.store.tables import inbox, tickets
from hub.tickets import service

WEEKS_LOOKED_BACK = 4
WEEKS_WITH_TRAFFIC = 3


@dataclass
class InstanceHealth:
    instance: str
    connector: str
    enabled: bool
    last_event_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    circuit_in: str = "closed"
    circuit_out: str = "closed"
    failures: int = 0
    expiries: dict[str, datetime] = field(default_factory=dict)
    usual_traffic: bool = False
    problems: dict[str, str] = field(default_factory=dict)  # kind -> message

    def lag_seconds(self, now: datetime) -> float | None:
        return (now - self.last_event_at).total_seconds() if self.last_event_at else None

    def next_expiry(self) -> tuple[str, datetime] | None:
        return min(self.expiries.items(), key=lambda kv: kv[1]) if self.expiries else None


def _count(conn: Connection, instance: str, start: datetime, end: datetime) -> int:
    query = (
        select(func.count())
        .select_from(inbox)
        .where(inbox.c.instance == instance, inbox.c.received_at >= start, inbox.c.received_at < end)
    )
    return int(conn.execute(query).scalar_one())


def _usually_busy(conn: Connection, instance: str, now: datetime, window: timedelta) -> bool:
    weeks = sum(
        1
        for week in range(1, WEEKS_LOOKED_BACK + 1)
        if _count(conn, instance, now - timedelta(weeks=week) - window, now - timedelta(weeks=week)) > 0
    )
    return weeks >= WEEKS_WITH_TRAFFIC


def _warning_for(hub: Hub, kind: str) -> float:
    table = hub.settings.health_expiry_warning
    return table.get(kind, table.get(kind.split(":")[0], table["default"]))


def assess(hub: Hub, now: datetime | None = None) -> list[InstanceHealth]:
    now = now or clock.now()
    out = []
    with read(hub.engine) as conn:
        states = all_states(conn)
        for inst in hub.config.instances:
            st = states.get(inst.id)
            health = InstanceHealth(inst.id, inst.connector, inst.enabled)
            last = conn.execute(select(func.max(inbox.c.received_at)).where(inbox.c.instance == inst.id)).scalar()
            health.last_event_at = last
            if st is not None:
                health.last_success_at, health.last_error = st.last_success_at, st.last_error
                health.expiries = {k: clock.parse(v) for k, v in (st.expiries or {}).items()}
            breaker_in, breaker_out = circuit.get(conn, inst.id, "in"), circuit.get(conn, inst.id, "out")
            health.circuit_in, health.circuit_out = breaker_in.state, breaker_out.state
            health.failures = breaker_in.failures
            if inst.enabled:
                _find_problems(hub, conn, inst, health, now, breaker_in, breaker_out)
            out.append(health)
    return out


def _find_problems(
    hub: Hub,
    conn: Connection,
    inst: Any,
    health: InstanceHealth,
    now: datetime,
    breaker_in: circuit.Circuit,
    breaker_out: circuit.Circuit,
) -> None:
    silence = timedelta(seconds=parse_duration(inst.health.get("silence_after", hub.settings.health_silence_after)))
    if inst.health.get("expect_traffic", True):
        health.usual_traffic = _usually_busy(conn, inst.id, now, silence)
        if health.usual_traffic and _count(conn, inst.id, now - silence, now + timedelta(seconds=1)) == 0:
            health.problems["silent"] = (
                f"no events for {silence} although it usually has traffic at this time of the week"
            )
    if breaker_in.failures >= circuit.THRESHOLD:
        health.problems["failing"] = f"{breaker_in.failures} failed polls in a row: {breaker_in.last_error}"
    if breaker_out.failures >= circuit.THRESHOLD:
        health.problems["delivery"] = f"{breaker_out.failures} failed deliveries in a row: {breaker_out.last_error}"
    for kind, at in health.expiries.items():
        left = (at - now).total_seconds()
        if left <= 0:
            health.problems[f"expired:{kind}"] = f"{kind} expired at {clock.isoformat(at)}"
        elif left <= _warning_for(hub, kind):
            health.problems[f"expiring:{kind}"] = f"{kind} expires at {clock.isoformat(at)}"


ALERT_SCOPE = "hub-health"


def raise_alerts(hub: Hub, now: datetime | None = None) -> dict[str, int]:
    """Open one alert ticket per (instance, problem) in the alert queue, and resolve it when the
    problem is gone. Running it again changes nothing."""
    now = now or clock.now()
    report = {"opened": 0, "resolved": 0}
    actor = service.Actor("hub:health")
    found = {(h.instance, kind): msg for h in assess(hub, now) for kind, msg in h.problems.items()}
    with write(hub.engine) as conn:
        for (instance, kind), message in found.items():
            key = f"{instance}:{kind}"
            ticket_id = service.find_ref(conn, "external", ALERT_SCOPE, [key])
            if ticket_id is None:
                data = {
                    "type": "alert",
                    "title": f"Intake problem on {instance}: {kind}",
                    "description": message,
                    "priority": "high",
                    "queue": hub.settings.health_alert_queue,
                    "requester": {"name": "hub", "kind": "system"},
                    "tags": ["intake-health"],
                }
                service.create_ticket(
                    conn,
                    data,
                    instance=ALERT_SCOPE,
                    connector="hub",
                    channel="internal",
                    prefix=hub.settings.ticket_prefix,
                    actor=actor,
                    now=now,
                    external_id=key,
                )
                report["opened"] += 1
            elif _status(conn, ticket_id) in service.FINAL_STATUSES:
                service.change_status(conn, ticket_id, "new", actor=actor, now=now, note=f"again: {message}")
                report["opened"] += 1
        open_alerts = conn.execute(
            select(service.ticket_refs.c.key, service.ticket_refs.c.ticket_id).where(
                service.ticket_refs.c.kind == "external", service.ticket_refs.c.scope == ALERT_SCOPE
            )
        ).all()
        for key, ticket_id in open_alerts:
            instance, kind = key.split(":", 1)
            if (instance, kind) not in found and _status(conn, ticket_id) not in service.FINAL_STATUSES:
                service.change_status(conn, ticket_id, "resolved", actor=actor, now=now, note="the problem has cleared")
                report["resolved"] += 1
    return report


def _status(conn: Connection, ticket_id: int) -> str:
    return str(conn.execute(select(tickets.c.status).where(tickets.c.id == ticket_id)).scalar_one())
