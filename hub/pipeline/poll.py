"""Running one poll of a polled instance. The cursor is saved in the same transaction as the
events it covers, so a crash between the two can neither lose nor duplicate anything."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError

from hub import clock
from hub.pipeline import inbox, state
from hub.runtime import Hub
from hub.sdk.connector import PolledConnector
from hub.sdk.errors import FatalError, RetriableError
from hub.store.db import read, write

log = logging.getLogger("hub.poll")


@dataclass
class PollReport:
    instance: str
    pages: int = 0
    received: int = 0
    duplicates: int = 0
    error: str | None = None
    errors: list[str] = field(default_factory=list)


def poll_instance(hub: Hub, instance_id: str, *, max_pages: int = 1000) -> PollReport:
    report = PollReport(instance_id)
    connector = hub.connector(instance_id)
    if not isinstance(connector, PolledConnector):
        raise FatalError(f"instance {instance_id!r} ({connector.name}) is not a polled connector")
    try:
        with read(hub.engine) as conn:
            cursor = state.load_cursor(conn, instance_id)
        while report.pages < max_pages:
            result = connector.poll(cursor)
            report.pages += 1
            with write(hub.engine) as conn:
                stored = inbox.store(conn, instance_id, result.events)
                state.save_success(conn, instance_id, clock.now(), result.cursor, with_cursor=True)
            cursor = result.cursor
            report.received += sum(1 for s in stored if not s.duplicate)
            report.duplicates += sum(1 for s in stored if s.duplicate)
            if not result.more:
                break
    except RetriableError as exc:
        report.error = f"temporary: {exc}"
        state.record_error(hub.engine, instance_id, report.error, retry_after=exc.retry_after)
    except FatalError as exc:
        report.error = f"configuration: {exc}"
        state.record_error(hub.engine, instance_id, report.error)
    except DBAPIError as exc:
        # The database went away: nothing was committed, the cursor did not move; the next
        # scheduled poll starts from the same place. Nothing to record it in either.
        report.error = f"database unavailable: {type(exc.orig).__name__}"
        log.warning("poll of %s paused: %s", instance_id, report.error)
    except Exception as exc:  # a connector bug must not kill the scheduler
        log.exception("poll of %s failed", instance_id)
        report.error = f"internal: {type(exc).__name__}: {exc}"
        state.record_error(hub.engine, instance_id, report.error)
    return report
