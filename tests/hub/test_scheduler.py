"""Scheduling: one job per polled instance, coalesced, never overlapping; back-off honoured."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub import clock
from hub.pipeline import state
from hub.scheduler import build_scheduler, poll_job
from hub.store.db import read, write
from tests import reference_connector as ref

CONFIG = """
hub: {data_dir: {data_dir}}
instances:
  - {id: every5, connector: memory, schedule: {every: 5m}}
  - {id: nightly, connector: memory, schedule: {cron: "0 2 * * *"}}
  - {id: disabled, connector: memory, enabled: false, schedule: {every: 1m}}
  - {id: manual, connector: memory}
  - id: hook
    connector: webhook
    mapping: {fields: {ticket.create: {title: /t}}}
"""


def test_jobs_per_polled_instance(make_hub):
    hub = make_hub(CONFIG)
    scheduler = build_scheduler(hub)
    scheduler.start(paused=True)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert set(jobs) == {"poll:every5", "poll:nightly", "sla", "outbox"}
    assert isinstance(jobs["poll:every5"].trigger, IntervalTrigger)
    assert jobs["poll:every5"].trigger.interval == timedelta(minutes=5)
    assert isinstance(jobs["poll:nightly"].trigger, CronTrigger)
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1


def test_poll_job_respects_a_pause(make_hub):
    hub = make_hub(CONFIG)
    ref.SOURCES["every5"].append({"key": "a", "data": {"title": "x"}})
    state.record_error(hub.engine, "every5", "429", paused_until=clock.now() + timedelta(hours=1))
    poll_job(hub, "every5")
    with read(hub.engine) as conn:
        assert state.load_cursor(conn, "every5") is None
    with write(hub.engine) as conn:
        state.save_success(conn, "every5", clock.now())
    state.record_error(hub.engine, "every5", "old", paused_until=clock.now() - timedelta(seconds=1))
    poll_job(hub, "every5")
    with read(hub.engine) as conn:
        assert state.load_cursor(conn, "every5") == 1
