"""The worker: claims received inbox rows and carries each through normalize -> correlate -> apply.

Each batch is one transaction: an event's ticket changes and its inbox state commit together, so
a worker killed at any point leaves the event `received` and it is simply processed again. On
PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED so any number of workers can run side by
side.

A batch first runs optimistically with no savepoints (they cost two statements per event). If
applying any event fails, the whole batch rolls back and runs again with one savepoint per event,
so the failing event is dead-lettered or deferred alone. Normalizing writes nothing, so its
failures (bad payloads, auto-replies) are handled in either pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import DBAPIError

from hub import clock, metrics
from hub.pipeline.apply import ApplyContext, Conflict, TicketNotFound, apply_event
from hub.pipeline.normalize import normalize, raw_from_row
from hub.runtime import Hub
from hub.sdk.errors import FatalError, IgnoreRecord, RetriableError, SkipRecord
from hub.store.db import write
from hub.store.tables import inbox

log = logging.getLogger("hub.worker")


@dataclass
class BatchReport:
    claimed: int = 0
    done: int = 0
    ignored: int = 0
    deferred: int = 0
    dead: int = 0


class _NeedsSavepoints(Exception):
    """Applying an event failed in the optimistic pass."""


def process_batch(hub: Hub, limit: int | None = None) -> BatchReport:
    try:
        return _run_batch(hub, limit, careful=False)
    except _NeedsSavepoints:
        return _run_batch(hub, limit, careful=True)


def _run_batch(hub: Hub, limit: int | None, *, careful: bool) -> BatchReport:
    report = BatchReport()
    now = clock.now()
    with write(hub.engine) as conn:
        rows = conn.execute(
            select(inbox)
            .where(inbox.c.state == "received", inbox.c.available_at <= now)
            .order_by(inbox.c.id)
            .limit(limit or hub.settings.worker_batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        report.claimed = len(rows)
        finished = []
        for row in rows:
            outcome = _process_row(hub, conn, row, careful)
            setattr(report, outcome, getattr(report, outcome) + 1)
            finished.append((row.instance, outcome, row.received_at))
    _observe(finished)  # only once committed: a rolled-back batch counts nothing
    return report


def _observe(finished: list[tuple[str, str, Any]]) -> None:
    done_at = clock.now()
    for instance, outcome, received_at in finished:
        if outcome == "deferred":
            continue
        metrics.EVENTS_PROCESSED.labels(instance, outcome).inc()
        metrics.PIPELINE_LATENCY.labels(instance).observe(max(0.0, (done_at - received_at).total_seconds()))


def drain(hub: Hub, max_batches: int = 1_000_000) -> BatchReport:
    """Process until nothing is ready (CLI, tests)."""
    total = BatchReport()
    for _ in range(max_batches):
        report = process_batch(hub)
        for name in ("claimed", "done", "ignored", "deferred", "dead"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.claimed == 0 or report.claimed == report.deferred:
            break
    return total


def _process_row(hub: Hub, conn: Connection, row: Any, careful: bool) -> str:
    now = clock.now()
    try:
        events = normalize(hub, row.instance, raw_from_row(row))  # pure: nothing to roll back
        if not events:
            _finish(conn, row, "ignored", now, error="the connector found nothing to do (e.g. an auto-reply)")
            return "ignored"
        if not careful:
            try:
                return _apply(hub, conn, row, events, now)
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                raise _NeedsSavepoints from exc
            except Exception as exc:
                raise _NeedsSavepoints from exc
        with conn.begin_nested():
            return _apply(hub, conn, row, events, now)
    except IgnoreRecord as exc:  # deliberately not acted on (auto-reply, rate limit): kept with the reason
        _finish(conn, row, "ignored", now, error=str(exc))
        return "ignored"
    except (TicketNotFound, Conflict, RetriableError) as exc:
        return _defer_or_kill(hub, conn, row, now, str(exc))
    except (SkipRecord, FatalError) as exc:
        _finish(conn, row, "dead", now, error=str(exc))
        return "dead"
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise  # the database went away: the whole batch rolls back and is retried
        _finish(conn, row, "dead", now, error=f"database rejected the event: {exc.orig}")
        return "dead"
    except _NeedsSavepoints:
        raise
    except Exception as exc:
        log.exception("event %s of %s failed", row.id, row.instance)
        _finish(conn, row, "dead", now, error=f"internal error: {type(exc).__name__}: {exc}")
        return "dead"


def _apply(hub: Hub, conn: Connection, row: Any, events: list[dict[str, Any]], now: Any) -> str:
    ctx = ApplyContext(conn, hub, row.id, row.dedup_key, now)
    ticket_ids = [apply_event(ctx, event) for event in events]
    ticket_id = next((t for t in reversed(ticket_ids) if t), None)
    _finish(conn, row, "done", now, ticket_id=ticket_id, error=None)
    return "done"


def _defer_or_kill(hub: Hub, conn: Connection, row: Any, now: Any, reason: str) -> str:
    attempts = row.attempts + 1
    if attempts >= hub.settings.worker_max_attempts:
        _finish(conn, row, "dead", now, error=f"{reason} (after {attempts} attempts)")
        return "dead"
    delay = timedelta(seconds=min(300, 2**attempts))
    conn.execute(
        update(inbox).where(inbox.c.id == row.id).values(attempts=attempts, last_error=reason, available_at=now + delay)
    )
    return "deferred"


def _finish(
    conn: Connection, row: Any, state: str, now: Any, *, error: str | None, ticket_id: int | None = None
) -> None:
    conn.execute(
        _FINISH,
        {
            "row_id": row.id,
            "state": state,
            "attempts": row.attempts + 1,
            "last_error": error,
            "processed_at": now,
            "ticket_id": ticket_id if ticket_id is not None else row.ticket_id,
        },
    )


# Built once (one per event): building a Core statement per call cost more than running it.
_FINISH = (
    update(inbox)
    .where(inbox.c.id == bindparam("row_id"))
    .values(
        state=bindparam("state"),
        attempts=bindparam("attempts"),
        last_error=bindparam("last_error"),
        processed_at=bindparam("processed_at"),
        ticket_id=bindparam("ticket_id"),
    )
)
