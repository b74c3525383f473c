"""Poll and maintenance requests: a connector that learns of upstream changes (a change
notification) asks the core to act soon; upkeep jobs run on their own interval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from hub import registry
from hub.pipeline import circuit, state
from hub.scheduler import build_scheduler, maintenance_job, requests_job
from hub.sdk import FatalError, RetriableError
from hub.store.db import read
from hub.store.tables import instance_state
from tests import reference_connector as ref

RUNS: list[tuple[str, bool]] = []
FAIL: list[Exception] = []


class UpkeepConnector(ref.MemoryConnector):
    """The reference connector plus upkeep that tests can watch and make fail."""

    name = "upkeep"
    maintenance_interval: ClassVar[float | None] = 600.0

    def maintenance(self, requested: bool = False) -> None:
        if FAIL:
            raise FAIL.pop(0)
        RUNS.append((self.context.instance_id, requested))

    def poll(self, cursor: Any) -> Any:
        RUNS.append((self.context.instance_id, "poll"))  # type: ignore[arg-type]
        return super().poll(cursor)


CONFIG = """
hub: {data_dir: {data_dir}}
instances:
  - {id: up, connector: upkeep, schedule: {every: 1h}}
  - {id: plain, connector: memory, schedule: {every: 1h}}
  - {id: sleeping, connector: upkeep, enabled: false}
"""


@pytest.fixture(autouse=True)
def _upkeep_connector():
    registry.register(UpkeepConnector)
    RUNS.clear()
    FAIL.clear()
    yield
    registry.unregister("upkeep")


def row(hub, instance: str) -> Any:
    with read(hub.engine) as conn:
        return conn.execute(select(instance_state).where(instance_state.c.instance == instance)).first()


def test_context_requests_are_taken_once_maintenance_before_poll(make_hub):
    hub = make_hub(CONFIG)
    ref.SOURCES["up"].append({"key": "a", "data": {"title": "x"}})
    connector = hub.connector("up")
    connector.context.request_poll()
    connector.context.request_maintenance()
    assert row(hub, "up").poll_requested_at is not None
    taken = requests_job(hub)
    assert taken == [("up", {"poll", "maintenance"})]
    assert RUNS == [("up", True), ("up", "poll")]
    with read(hub.engine) as conn:
        assert state.load_cursor(conn, "up") == 1  # the poll really ran and stored its cursor
    assert requests_job(hub) == []  # cleared: nothing runs twice
    assert row(hub, "up").poll_requested_at is None and row(hub, "up").maintenance_requested_at is None


def test_requests_of_disabled_instances_are_dropped(make_hub):
    hub = make_hub(CONFIG)
    state.request(hub.engine, "sleeping", "poll")
    assert requests_job(hub) == []
    assert RUNS == []


def test_a_request_made_while_taking_is_not_lost(make_hub, fake_clock):
    hub = make_hub(CONFIG)
    state.request(hub.engine, "up", "poll")
    first = row(hub, "up").poll_requested_at
    fake_clock.advance(seconds=1)
    state.request(hub.engine, "up", "poll")  # a newer request replaces the value we would clear
    assert row(hub, "up").poll_requested_at > first
    assert state.take_requests(hub.engine) == [("up", {"poll"})]
    assert state.take_requests(hub.engine) == []


def test_maintenance_failure_is_recorded_without_touching_the_poll_circuit(make_hub):
    hub = make_hub(CONFIG)
    state.record_error(hub.engine, "up", "429 from source", retry_after=3600)
    with read(hub.engine) as conn:
        before = circuit.get(conn, "up", "in")
    FAIL.extend([FatalError("the app lacks Mail.Read"), RetriableError("503")])
    assert "configuration" in (maintenance_job(hub, "up") or "")
    after = row(hub, "up")
    assert after.last_error == "maintenance (configuration): the app lacks Mail.Read"
    with read(hub.engine) as conn:
        assert circuit.get(conn, "up", "in") == before  # the poll's back-off is unchanged
    assert "temporary" in (maintenance_job(hub, "up") or "")
    assert maintenance_job(hub, "up") is None and RUNS == [("up", False)]


def test_upkeep_jobs_only_for_enabled_connectors_that_declare_an_interval(make_hub):
    hub = make_hub(CONFIG)
    scheduler = build_scheduler(hub)
    scheduler.start(paused=True)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert "maintenance:up" in jobs and "maintenance:plain" not in jobs and "maintenance:sleeping" not in jobs
    assert jobs["maintenance:up"].trigger.interval == timedelta(minutes=10)
    assert jobs["requests"].trigger.interval == timedelta(seconds=hub.settings.requests_interval)
