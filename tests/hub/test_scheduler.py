"""Scheduling: one job per polled instance, coalesced, never overlapping; back-off honoured."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub.pipeline import circuit, state
from hub.scheduler import build_scheduler, poll_job
from hub.store.db import read
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
    assert set(jobs) == {"poll:every5", "poll:nightly", "requests", "outbox", "health", "sla"}
    assert isinstance(jobs["poll:every5"].trigger, IntervalTrigger)
    assert jobs["poll:every5"].trigger.interval == timedelta(minutes=5)
    assert isinstance(jobs["poll:nightly"].trigger, CronTrigger)
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1


def test_failing_poller_opens_its_circuit_and_is_left_alone(make_hub, fake_clock, monkeypatch):
    hub = make_hub(CONFIG)
    calls = []

    def broken(cursor):
        calls.append(cursor)
        raise ref.RetriableError("503 from the source")

    monkeypatch.setattr(hub.connector("every5"), "poll", broken)
    for _ in range(8):
        poll_job(hub, "every5")
    assert len(calls) == circuit.THRESHOLD  # then the circuit is open: no more calls
    with read(hub.engine) as conn:
        breaker = circuit.get(conn, "every5", "in")
    assert breaker.state == "open" and breaker.last_error == "temporary: 503 from the source"
    fake_clock.advance(seconds=circuit.BASE_COOLDOWN + 1)
    monkeypatch.undo()
    ref.SOURCES["every5"].append({"key": "a", "data": {"title": "x"}})
    poll_job(hub, "every5")  # half-open: one try, which succeeds and closes the circuit
    with read(hub.engine) as conn:
        assert circuit.get(conn, "every5", "in").state == "closed"
        assert state.load_cursor(conn, "every5") == 1


def test_retry_after_keeps_the_poller_away(make_hub, fake_clock, monkeypatch):
    hub = make_hub(CONFIG)

    def throttled(cursor):
        raise ref.RetriableError("429", retry_after=3600)

    monkeypatch.setattr(hub.connector("every5"), "poll", throttled)
    poll_job(hub, "every5")
    monkeypatch.undo()
    ref.SOURCES["every5"].append({"key": "a", "data": {"title": "x"}})
    fake_clock.advance(minutes=59)
    poll_job(hub, "every5")
    with read(hub.engine) as conn:
        assert state.load_cursor(conn, "every5") is None
    fake_clock.advance(minutes=2)
    poll_job(hub, "every5")
    with read(hub.engine) as conn:
        assert state.load_cursor(conn, "every5") == 1
