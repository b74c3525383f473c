"""APScheduler 3 jobs: one per polled instance (coalesced, never two runs of one instance at
once), the SLA check (with the polls, so one scheduler runs it), plus the outbox dispatcher. The
worker runs as its own loop (see WorkerLoop)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import undefined
from sqlalchemy import select

from hub import clock
from hub.config import InstanceConfig, parse_duration
from hub.outbox.dispatcher import dispatch_due
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import process_batch
from hub.runtime import Hub
from hub.sdk.connector import PolledConnector
from hub.store.db import read
from hub.store.tables import instance_state

log = logging.getLogger("hub.scheduler")


def trigger_for(inst: InstanceConfig, timezone: str = "UTC") -> BaseTrigger | None:
    schedule = inst.schedule or {}
    jitter = int(parse_duration(schedule["jitter"])) if "jitter" in schedule else None
    if "every" in schedule:
        return IntervalTrigger(seconds=parse_duration(schedule["every"]), jitter=jitter, timezone=UTC)
    if "cron" in schedule:
        return CronTrigger.from_crontab(schedule["cron"], timezone=timezone)
    return None


def poll_job(hub: Hub, instance_id: str) -> None:
    """Skip while the source asked us to back off (429 with a long Retry-After)."""
    with read(hub.engine) as conn:
        paused = conn.execute(
            select(instance_state.c.paused_until).where(instance_state.c.instance == instance_id)
        ).scalar()
    if paused and paused > clock.now():
        log.info("poll of %s skipped: paused until %s", instance_id, paused)
        return
    report = poll_instance(hub, instance_id)
    if report.error:
        log.warning("poll of %s failed: %s", instance_id, report.error)
    elif report.received:
        log.info("poll of %s: %d new events", instance_id, report.received)


def build_scheduler(hub: Hub, *, polls: bool = True, outbox: bool = True) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    )
    if polls:
        for inst in hub.config.instances:
            if not inst.enabled or not isinstance(hub.connector(inst.id), PolledConnector):
                continue
            trigger = trigger_for(inst, hub.settings.timezone)
            if trigger is not None:
                # interval pollers catch up at start-up instead of one interval later
                first = datetime.now(UTC) if isinstance(trigger, IntervalTrigger) else undefined
                scheduler.add_job(
                    poll_job,
                    trigger,
                    args=(hub, inst.id),
                    id=f"poll:{inst.id}",
                    name=f"poll {inst.id}",
                    next_run_time=first,
                )
    if polls:
        from hub.tickets.sla import check_due

        every_minute = IntervalTrigger(seconds=60)
        scheduler.add_job(check_due, every_minute, args=(hub,), id="sla", name="SLA warnings and breaches")
    if outbox:
        scheduler.add_job(
            dispatch_due,
            IntervalTrigger(seconds=hub.settings.outbox_interval),
            args=(hub,),
            id="outbox",
            name="outbox dispatcher",
        )
    return scheduler


class WorkerLoop:
    """Processes the inbox continuously; sleeps only when there is nothing ready."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = process_batch(self.hub)
            except Exception:  # database away: wait and try again, nothing is lost
                log.exception("worker batch failed; retrying")
                report = None
            if report is None or report.claimed == 0 or report.claimed == report.deferred:
                self.wake.wait(self.hub.settings.worker_interval)
                self.wake.clear()
