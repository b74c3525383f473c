"""APScheduler 3 jobs: one per polled instance (coalesced, never two runs of one instance at
once), one per instance with upkeep (`maintenance_interval`), one that acts on poll/maintenance
requests connectors made (change notifications), the SLA check and intake health (with the polls,
so one scheduler runs them), plus the outbox dispatcher. The worker runs as its own loop (see
WorkerLoop)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import undefined

from hub import clock
from hub.config import InstanceConfig, parse_duration
from hub.outbox.dispatcher import dispatch_due
from hub.pipeline import circuit, state
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import BatchSizer
from hub.runtime import Hub
from hub.sdk.connector import PolledConnector
from hub.sdk.errors import FatalError, RetriableError
from hub.store import checkpoint
from hub.store.db import read

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
    """Skip while the instance's circuit is open (repeated failures, or a long Retry-After)."""
    with read(hub.engine) as conn:
        breaker = circuit.get(conn, instance_id, "in")
    if breaker.is_open(clock.now()):
        log.info("poll of %s skipped: circuit open until %s", instance_id, breaker.opened_until)
        return
    report = poll_instance(hub, instance_id)
    if report.error:
        log.warning("poll of %s failed: %s", instance_id, report.error)
    elif report.received:
        log.info("poll of %s: %d new events", instance_id, report.received)


def maintenance_job(hub: Hub, instance_id: str, requested: bool = False) -> str | None:
    """Run an instance's upkeep; a failure is recorded on the instance (visible in `hub connectors
    list`) and never stops the scheduler. Returns the error, if any."""
    try:
        hub.connector(instance_id).maintenance(requested=requested)
        return None
    except (RetriableError, FatalError) as exc:
        kind = "temporary" if isinstance(exc, RetriableError) else "configuration"
        error = f"maintenance ({kind}): {exc}"
    except Exception as exc:
        log.exception("maintenance of %s failed", instance_id)
        error = f"maintenance (internal): {type(exc).__name__}: {exc}"
    log.warning("%s: %s", instance_id, error)
    state.record_error(hub.engine, instance_id, error, from_poll=False)
    return error


def requests_job(hub: Hub) -> list[tuple[str, set[str]]]:
    """Act on requests connectors made through their context: maintenance first (it may recreate
    what the poll relies on), then the poll."""
    enabled = {inst.id for inst in hub.config.instances if inst.enabled}
    taken = [(i, kinds) for i, kinds in state.take_requests(hub.engine) if i in enabled]
    for instance_id, kinds in taken:
        if "maintenance" in kinds:
            maintenance_job(hub, instance_id, requested=True)
        if "poll" in kinds and isinstance(hub.connector(instance_id), PolledConnector):
            poll_job(hub, instance_id)
    return taken


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
        for inst in hub.config.instances:
            interval = type(hub.connector(inst.id)).maintenance_interval if inst.enabled else None
            if interval:
                scheduler.add_job(
                    maintenance_job,
                    IntervalTrigger(seconds=interval),
                    args=(hub, inst.id),
                    id=f"maintenance:{inst.id}",
                    name=f"maintenance {inst.id}",
                    next_run_time=datetime.now(UTC),
                )
        scheduler.add_job(
            requests_job,
            IntervalTrigger(seconds=hub.settings.requests_interval),
            args=(hub,),
            id="requests",
            name="poll and maintenance requests",
        )
        if hub.settings.drift:
            from hub.tickets.workflows import drift

            scheduler.add_job(
                drift.job,
                IntervalTrigger(seconds=parse_duration(hub.settings.drift.get("every", "1h"))),
                args=(hub,),
                id="hr-drift",
                name="HR drift check",
            )
        from hub.health import raise_alerts

        scheduler.add_job(
            raise_alerts,
            IntervalTrigger(seconds=hub.settings.health_interval),
            args=(hub,),
            id="health",
            name="intake health",
        )
        from hub.tickets.sla import check_due

        scheduler.add_job(
            check_due, IntervalTrigger(seconds=60), args=(hub,), id="sla", name="SLA warnings and breaches"
        )
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
        with checkpoint.running(self.hub.engine):  # the log copied back off the batches' commits
            self._loop()

    def _loop(self) -> None:
        failures = 0
        sizer = BatchSizer(self.hub)
        while not self._stop.is_set():
            try:
                report = sizer.run(self.hub)
            except Exception as exc:  # database away: the batch rolled back, nothing is lost
                failures += 1
                if failures == 1:
                    log.warning("worker paused, database unavailable (%s); retrying", type(exc).__name__)
                self.wake.wait(min(30.0, self.hub.settings.worker_interval * 2**failures))
                continue
            if failures:
                log.info("worker resumed after %d failed attempts", failures)
                failures = 0
            if report.claimed == 0 or report.claimed == report.deferred:
                self.wake.wait(self.hub.settings.worker_interval)
                self.wake.clear()


class LeaderScheduler:
    """Runs the polling jobs only while this process holds the scheduler lead; standbys try to
    take it over every `interval` seconds."""

    def __init__(self, hub: Hub, interval: float = 2.0) -> None:
        from hub.leader import Leadership

        self.hub = hub
        self.interval = interval
        self.leadership = Leadership(hub.engine, "scheduler", hub.settings.data_dir)
        self.scheduler = build_scheduler(hub, polls=True, outbox=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-leader", daemon=True)

    @property
    def leading(self) -> bool:
        return self.leadership.held

    def start(self) -> None:
        self.scheduler.start(paused=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.scheduler.shutdown(wait=False)
        self.leadership.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            was = self.leadership.held
            now_leading = self.leadership.try_acquire()
            if now_leading and not was:
                log.info("this process now leads the scheduler")
                self.scheduler.resume()
            elif was and not now_leading:
                log.warning("scheduler lead lost; pausing jobs")
                self.scheduler.pause()
            self._stop.wait(self.interval)
