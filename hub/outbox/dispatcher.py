"""Delivering outbox rows through connector actions: at least once, with backoff, idempotency
keys passed to the action, and a dead state with the reason once the retry budget is spent."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub import clock
from hub.pipeline import circuit
from hub.runtime import Hub
from hub.sdk.errors import FatalError, RetriableError, SkipRecord
from hub.store.db import write
from hub.store.tables import outbox, ticket_history

log = logging.getLogger("hub.outbox")

# Called in the transaction that records an action's final outcome (state `done` or `dead`):
# (conn, outbox row, state, result, error, now). Workflows close or flag their task here.
Outcome = Callable[[Connection, Any, str, "dict[str, Any] | None", "str | None", datetime], None]
outcome_listeners: list[Outcome] = []


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def dispatch_due(hub: Hub, limit: int = 50) -> DispatchReport:
    """Claim due rows, run their actions outside any transaction, then record the outcome.

    The claim moves `next_attempt_at` forward (a lease), so a crashed dispatcher's rows come back
    by themselves and a second dispatcher does not pick them up meanwhile."""
    report = DispatchReport()
    now = clock.now()
    lease = now + timedelta(minutes=5)
    with write(hub.engine) as conn:
        rows = conn.execute(
            select(outbox)
            .where(
                outbox.c.state == "pending",
                outbox.c.next_attempt_at <= now,
                outbox.c.instance.not_in(circuit.open_instances(conn, "out", now)),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows])).values(next_attempt_at=lease))
    broken: dict[str, datetime] = {}
    for row in rows:
        if row.instance in broken:  # its circuit opened during this batch: wait, keep the attempts
            _record(hub, row, "pending", row.attempts, error=row.last_error, until=broken[row.instance])
            continue
        opened = _deliver(hub, row, report)
        if opened is not None:
            broken[row.instance] = opened
    return report


def _deliver(hub: Hub, row: Any, report: DispatchReport) -> datetime | None:
    """Run one action; returns when the instance's circuit opened, if this failure opened it."""
    attempts = row.attempts + 1
    try:
        result = hub.connector(row.instance).run_action(row.action, row.payload, row.idempotency_key)
    except RetriableError as exc:
        # Retry-After delays this row only: one destination's throttling (a callback URL, one
        # mailbox) must not stop the instance's other actions; repeated failures open the circuit.
        breaker = circuit.record_failure(hub.engine, row.instance, "out", str(exc))
        if attempts >= hub.settings.outbox_max_attempts:
            _record(hub, row, "dead", attempts, error=str(exc))
            report.dead += 1
        else:
            backoff = min(hub.settings.outbox_backoff_max, hub.settings.outbox_backoff_base * 2 ** (attempts - 1))
            delay = max(exc.retry_after or 0.0, random.uniform(backoff / 2, backoff))
            _record(hub, row, "pending", attempts, error=str(exc), until=clock.now() + timedelta(seconds=delay))
            report.retried += 1
        return breaker.opened_until
    except (FatalError, SkipRecord, LookupError) as exc:
        _record(hub, row, "dead", attempts, error=str(exc))
        report.dead += 1
        return None
    except Exception as exc:
        log.exception("outbox %s failed", row.id)
        _record(hub, row, "dead", attempts, error=f"internal error: {type(exc).__name__}: {exc}")
        report.dead += 1
        return None
    else:
        _record(hub, row, "done", attempts, result={"summary": result.summary, **result.data})
        report.sent += 1
    return None


def _record(
    hub: Hub,
    row: Any,
    state: str,
    attempts: int,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    until: datetime | None = None,
) -> None:
    now = clock.now()
    with write(hub.engine) as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(
                state=state,
                attempts=attempts,
                last_error=error,
                result=result,
                next_attempt_at=until or now,
                done_at=now if state == "done" else None,
            )
        )
        if state == "done":
            circuit.record_success(conn, row.instance, "out")
        if row.ticket_id and state != "pending":
            conn.execute(
                insert(ticket_history).values(
                    ticket_id=row.ticket_id,
                    at=now,
                    actor=f"outbox:{row.instance}",
                    action="action_done" if state == "done" else "action_failed",
                    field=row.action,
                    old=None,
                    new=(result or {}).get("summary") if state == "done" else error,
                )
            )
        if state != "pending":
            for listener in outcome_listeners:
                listener(conn, row, state, result, error, now)


def retry(hub: Hub, ids: list[int]) -> int:
    """Put dead rows back in the queue (`hub outbox retry`)."""
    with write(hub.engine) as conn:
        return int(
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids), outbox.c.state == "dead")
                .values(state="pending", attempts=0, next_attempt_at=clock.now())
            ).rowcount
        )
