"""The worker: claims received inbox rows and carries each through normalize -> correlate -> apply.

Each batch is one transaction: an event's ticket changes and its inbox state commit together, so
a worker killed at any point leaves the event `received` and it is simply processed again. On
PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED so any number of workers can run side by
side.

A batch first runs optimistically with no savepoints (they cost two statements per event), its
history and metrics rows queued and written per statement at the end (hub/store/deferred.py). If
applying any event fails, the whole batch rolls back and runs again with one savepoint per event,
so the failing event is dead-lettered or deferred alone. Normalizing writes nothing, so its
failures (bad payloads, auto-replies) are handled in either pass.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import DBAPIError

from hub import clock, metrics
from hub.pipeline import correlate
from hub.pipeline.apply import ApplyContext, Conflict, TicketNotFound, apply_event
from hub.pipeline.normalize import normalize, raw_from_row
from hub.runtime import Hub
from hub.sdk.errors import FatalError, IgnoreRecord, RetriableError, SkipRecord
from hub.store import checkpoint, deferred, direct
from hub.store.db import write
from hub.store.tables import inbox
from hub.tickets import rows as ticket_rows

log = logging.getLogger("hub.worker")


@dataclass
class BatchReport:
    claimed: int = 0
    done: int = 0
    ignored: int = 0
    deferred: int = 0
    dead: int = 0
    held: float = 0.0  # seconds from taking the write transaction to its commit


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
    synced = hub.settings.worker_synchronous == "full"  # config.WORKER_SYNC
    with write(hub.engine, synced=synced) as conn, ticket_rows.cached(conn), _deferring_unless(careful, conn):
        began = time.perf_counter()  # the lock is ours: waiting for it is not the batch's cost
        # Ids first, then the rows: a plan on stale statistics (a sudden backlog) sorts every
        # candidate, and sorting whole rows with their bodies spilled to disk (~30 ms per batch).
        claimed = direct.select(conn, _CLAIM, {"now": now, "limit": limit or hub.settings.worker_batch_size})
        rows = [
            row
            for _chunk, size, padded in direct.chunks([row_id for (row_id,) in claimed])
            for row in direct.records(conn, _rows_of(size), direct.arguments(padded))
        ]
        report.claimed = len(rows)
        normalized = [_normalized(hub, row) for row in rows]
        correlate.prefetch(
            conn,
            [
                (e, row.dedup_key)
                for row, events in zip(rows, normalized, strict=True)
                if isinstance(events, list)
                for e in events
            ],
        )
        finished = []
        states: list[dict[str, Any]] = []
        for row, events in zip(rows, normalized, strict=True):
            outcome = _process_row(hub, conn, row, events, careful, states)
            setattr(report, outcome, getattr(report, outcome) + 1)
            finished.append((row.instance, outcome, row.received_at))
        if not careful:
            _flush_deferred(conn)
        if states:
            direct.executemany(conn, _FINISH, states)  # one executemany for the batch, committed with its changes
    report.held = time.perf_counter() - began
    _observe(finished)  # only once committed: a rolled-back batch counts nothing
    return report


def _deferring_unless(careful: bool, conn: Connection) -> AbstractContextManager[None]:
    """History and metrics rows are written per batch in the optimistic pass only: with
    savepoints, each event's rows must roll back with it."""
    return nullcontext() if careful else deferred.deferring(conn)


def _flush_deferred(conn: Connection) -> None:
    try:
        deferred.flush(conn)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        raise _NeedsSavepoints from exc


def _observe(finished: list[tuple[str, str, Any]]) -> None:
    done_at = clock.now()
    counts: Counter[tuple[str, str]] = Counter()
    latencies: dict[str, list[float]] = {}
    for instance, outcome, received_at in finished:
        if outcome == "deferred":
            continue
        counts[(instance, outcome)] += 1
        latencies.setdefault(instance, []).append(max(0.0, (done_at - received_at).total_seconds()))
    for (instance, outcome), count in counts.items():  # a labelled child looked up per batch, not per event
        metrics.EVENTS_PROCESSED.labels(instance, outcome).inc(count)
    for instance, seconds in latencies.items():
        histogram = metrics.PIPELINE_LATENCY.labels(instance)
        for value in seconds:
            histogram.observe(value)


class BatchSizer:
    """How many events the next batch claims, so that on SQLite it holds the write lock about
    `hub.worker.batch_time`: webhooks wait for that lock, and a batch of 100 held it 55-90 ms
    (bench/README.md). Sized from the time per event of the batches so far, which varies with
    the mix of events. Without a time budget (PostgreSQL) every batch is `batch_size`."""

    FIRST = 10  # before anything is measured

    def __init__(self, hub: Hub) -> None:
        self.most = hub.settings.worker_batch_size
        self.seconds = hub.settings.worker_batch_seconds
        self.per_event: float | None = None

    def next(self) -> int:
        if self.seconds is None:
            return self.most
        if self.per_event is None:
            return min(self.most, self.FIRST)
        return max(1, min(self.most, int(self.seconds / self.per_event)))

    def run(self, hub: Hub) -> BatchReport:
        """One batch of the size this gives, timed for the next. Timed from holding the lock to
        the commit: counting the wait for the lock too shrank the batches in a busy hour until
        their fixed costs were most of the work (the worker fell from 1,250 to 360 events/s)."""
        report = process_batch(hub, self.next())
        if self.seconds is not None and report.claimed:
            per_event = report.held / report.claimed
            self.per_event = per_event if self.per_event is None else 0.7 * self.per_event + 0.3 * per_event
        return report


def drain(hub: Hub, max_batches: int = 1_000_000) -> BatchReport:
    """Process until nothing is ready (CLI, tests)."""
    total = BatchReport()
    sizer = BatchSizer(hub)
    with checkpoint.running(hub.engine):
        for _ in range(max_batches):
            report = sizer.run(hub)
            for name in ("claimed", "done", "ignored", "deferred", "dead"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            if report.claimed == 0 or report.claimed == report.deferred:
                break
    return total


def _normalized(hub: Hub, row: Any) -> list[dict[str, Any]] | Exception:
    """The row's canonical events, or why there are none (handled with the apply's outcomes).
    Pure: nothing to roll back, so a whole batch is normalized before any of it is applied."""
    try:
        return normalize(hub, row.instance, raw_from_row(row))
    except Exception as exc:
        return exc


def _process_row(
    hub: Hub,
    conn: Connection,
    row: Any,
    normalized: list[dict[str, Any]] | Exception,
    careful: bool,
    states: list[dict[str, Any]],
) -> str:
    """The event's outcome. Its final inbox state is appended to `states` (written per batch)."""
    now = clock.now()

    def finish(state: str, error: str | None = None, ticket_id: int | None = None) -> str:
        states.append(_final_state(row, state, now, error, ticket_id))
        return state

    try:
        if isinstance(normalized, Exception):
            raise normalized
        events = normalized
        if not events:
            return finish("ignored", "the connector found nothing to do (e.g. an auto-reply)")
        if not careful:
            try:
                return finish("done", ticket_id=_apply(hub, conn, row, events, now))
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                raise _NeedsSavepoints from exc
            except Exception as exc:
                raise _NeedsSavepoints from exc
        with conn.begin_nested():
            ticket_id = _apply(hub, conn, row, events, now)
        return finish("done", ticket_id=ticket_id)
    except IgnoreRecord as exc:  # deliberately not acted on (auto-reply, rate limit): kept with the reason
        return finish("ignored", str(exc))
    except (TicketNotFound, Conflict, RetriableError) as exc:
        if _defer(hub, conn, row, now, str(exc)):
            return "deferred"
        return finish("dead", f"{exc} (after {row.attempts + 1} attempts)")
    except (SkipRecord, FatalError) as exc:
        return finish("dead", str(exc))
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise  # the database went away: the whole batch rolls back and is retried
        # e.g. two workers' batches locked the same tickets in opposite order: try again later
        if _transient(exc) and _defer(hub, conn, row, now, f"database conflict, retried: {exc.orig}"):
            return "deferred"
        return finish("dead", f"database rejected the event: {exc.orig}")
    except _NeedsSavepoints:
        raise
    except Exception as exc:
        log.exception("event %s of %s failed", row.id, row.instance)
        return finish("dead", f"internal error: {type(exc).__name__}: {exc}")


def _apply(hub: Hub, conn: Connection, row: Any, events: list[dict[str, Any]], now: Any) -> int | None:
    """The ticket the event landed on (the last one, for an event that touched several)."""
    ctx = ApplyContext(conn, hub, row.id, row.dedup_key, now, replay=row.processed_at is not None)
    ticket_ids = [apply_event(ctx, event) for event in events]
    return next((t for t in reversed(ticket_ids) if t), None)


# PostgreSQL: serialization failure, deadlock, lock not available. Retrying resolves them.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def _transient(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in TRANSIENT_SQLSTATES or "database is locked" in str(exc.orig)


def _defer(hub: Hub, conn: Connection, row: Any, now: Any, reason: str) -> bool:
    """Put the event back for a later try; False when it has had its tries."""
    attempts = row.attempts + 1
    if attempts >= hub.settings.worker_max_attempts:
        return False
    delay = timedelta(seconds=min(300, 2**attempts))
    conn.execute(
        update(inbox).where(inbox.c.id == row.id).values(attempts=attempts, last_error=reason, available_at=now + delay)
    )
    return True


def _final_state(row: Any, state: str, now: Any, error: str | None, ticket_id: int | None) -> dict[str, Any]:
    return {
        "row_id": row.id,
        "state": state,
        "attempts": row.attempts + 1,
        "last_error": error,
        "processed_at": now,
        "ticket_id": ticket_id if ticket_id is not None else row.ticket_id,
    }


# Built once: building a Core statement per call cost more than running it.
_CLAIM = (
    select(inbox.c.id)
    .where(inbox.c.state == "received", inbox.c.available_at <= bindparam("now"))
    .order_by(inbox.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


@lru_cache(maxsize=len(direct.SIZES))
def _rows_of(count: int) -> Any:
    """The inbox rows of `count` ids (see direct.chunks), in id order."""
    return select(inbox).where(inbox.c.id.in_(direct.placeholders(count))).order_by(inbox.c.id)


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
