"""The outbox: at-least-once delivery with backoff, idempotency keys and dead letters."""

from __future__ import annotations

from datetime import timedelta

from hub.outbox.dispatcher import dispatch_due, retry
from hub.outbox.queue import enqueue, listing
from hub.pipeline import circuit
from hub.sdk import FatalError, RetriableError
from hub.store.db import read, write
from tests import reference_connector as ref


def queue(hub, key: str, text: str = "hello") -> bool:
    with write(hub.engine) as conn:
        return enqueue(conn, instance="src", action="record", payload={"text": text}, idempotency_key=key)


def rows(hub) -> list[dict]:
    with read(hub.engine) as conn:
        return listing(conn)


def test_delivered_once_with_its_idempotency_key(make_hub):
    hub = make_hub()
    assert queue(hub, "ack:1") is True
    assert queue(hub, "ack:1") is False  # same key: not queued twice
    assert dispatch_due(hub).sent == 1
    assert dispatch_due(hub).sent == 0
    assert ref.SENT == [("src", {"text": "hello"}, "ack:1")]
    assert rows(hub)[0]["state"] == "done" and rows(hub)[0]["result"]["summary"] == "recorded hello"


def test_retriable_failures_back_off_honouring_retry_after(make_hub, fake_clock):
    hub = make_hub()
    ref.FAILURES.extend([RetriableError("503 from SMTP relay", retry_after=600)])
    queue(hub, "k")
    assert dispatch_due(hub).retried == 1
    fake_clock.advance(seconds=599)
    assert dispatch_due(hub).sent == 0  # not due yet
    fake_clock.advance(seconds=2)
    assert dispatch_due(hub).sent == 1
    assert rows(hub)[0]["attempts"] == 2


def test_budget_spent_goes_dead_with_reason_and_can_be_retried(make_hub, fake_clock):
    hub = make_hub()
    ref.FAILURES.extend(RetriableError(f"timeout {i}") for i in range(hub.settings.outbox_max_attempts))
    queue(hub, "k")
    for _ in range(hub.settings.outbox_max_attempts):
        dispatch_due(hub)
        fake_clock.advance(hours=2)
    (row,) = rows(hub)
    assert row["state"] == "dead" and row["last_error"].startswith("timeout")
    assert retry(hub, [row["id"]]) == 1
    assert dispatch_due(hub).sent == 1


def test_fatal_errors_are_dead_at_once(make_hub):
    hub = make_hub()
    ref.FAILURES.append(FatalError("403: Mail.Send permission missing"))
    queue(hub, "k")
    assert dispatch_due(hub).dead == 1
    assert "Mail.Send" in rows(hub)[0]["last_error"]


def test_a_crashed_dispatcher_lease_expires(make_hub, fake_clock, monkeypatch):
    hub = make_hub()
    queue(hub, "k")
    from hub.outbox import dispatcher

    monkeypatch.setattr(dispatcher, "_deliver", lambda *a: None)  # claimed, then the process "dies"
    dispatch_due(hub)
    monkeypatch.undo()
    assert dispatch_due(hub).sent == 0  # leased
    fake_clock.advance(minutes=6)
    assert dispatch_due(hub).sent == 1


TWO = """
hub: {data_dir: {data_dir}}
instances:
  - {id: broken, connector: memory}
  - {id: healthy, connector: memory}
"""


def test_one_broken_system_does_not_starve_the_others(make_hub, fake_clock, monkeypatch):
    hub = make_hub(TWO)
    calls: list[str] = []
    from tests.reference_connector import MemoryConnector

    real = MemoryConnector.record

    def record(self, payload, *, idempotency_key):
        calls.append(self.context.instance_id)
        if self.context.instance_id == "broken":
            raise RetriableError("connection reset")
        return real(self, payload, idempotency_key=idempotency_key)

    record._hub_action = "record"  # type: ignore[attr-defined]
    monkeypatch.setattr(MemoryConnector, "record", record)
    with write(hub.engine) as conn:
        for i in range(20):
            enqueue(conn, instance="broken", action="record", payload={"n": i}, idempotency_key=f"b{i}")
        for i in range(3):
            enqueue(conn, instance="healthy", action="record", payload={"n": i}, idempotency_key=f"h{i}")
    report = dispatch_due(hub, limit=50)
    assert calls.count("broken") == circuit.THRESHOLD  # the circuit opened; the rest were not tried
    assert report.sent == 3 and calls.count("healthy") == 3
    with read(hub.engine) as conn:
        broken_rows = [r for r in listing(conn, limit=100) if r["instance"] == "broken"]
    assert sum(r["attempts"] for r in broken_rows) == circuit.THRESHOLD  # untried rows kept their budget
    assert all(r["state"] == "pending" for r in broken_rows)
    assert dispatch_due(hub).retried == 0  # still open: nothing claimed for it


def test_a_downstream_down_for_an_hour_gets_everything_once_it_is_back(make_hub, fake_clock, monkeypatch):
    hub = make_hub()
    from tests.reference_connector import MemoryConnector

    back_at = fake_clock.current + timedelta(hours=1)
    real = MemoryConnector.record
    tries: list[str] = []

    def record(self, payload, *, idempotency_key):
        tries.append(idempotency_key)
        if fake_clock.current < back_at:
            raise RetriableError("connection refused")
        return real(self, payload, idempotency_key=idempotency_key)

    record._hub_action = "record"  # type: ignore[attr-defined]
    monkeypatch.setattr(MemoryConnector, "record", record)
    for i in range(10):
        queue(hub, f"n{i}", text=str(i))
    for _ in range(6 * 90):  # the dispatcher's schedule, every 10 s, for 90 minutes
        dispatch_due(hub)
        fake_clock.advance(seconds=10)
    assert sorted(k for _i, _p, k in ref.SENT) == sorted(f"n{i}" for i in range(10))  # each applied once
    assert all(r["state"] == "done" for r in rows(hub))
    assert len(tries) < 10 * 12  # the circuit kept the hour of failures from burning the retries
