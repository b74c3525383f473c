"""Receive: durable and idempotent; the worker claims each stored event once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from hub.pipeline.inbox import receive
from hub.pipeline.worker import process_batch
from hub.sdk import RawEvent
from hub.store.db import read
from hub.store.tables import inbox, tickets


def count(engine, table) -> int:
    with read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_overlong_keys_are_hashed_not_truncated(engine):
    long_a, long_b = "a" * 600 + "1", "a" * 600 + "2"
    stored = receive(engine, "hook", [RawEvent(long_a, b"{}"), RawEvent(long_b, b"{}"), RawEvent(long_a, b"{}")])
    assert [s.duplicate for s in stored] == [False, False, True]


def test_two_workers_in_parallel_process_each_event_once(make_hub):
    """On PostgreSQL the claims use SKIP LOCKED; on SQLite the writers queue. Either way: once."""
    hub = make_hub()
    events = [RawEvent(f"w{i}", f'{{"key": "w{i}", "data": {{"title": "T{i}"}}}}'.encode()) for i in range(60)]
    receive(hub.engine, "src", events)
    totals: list[int] = []

    def work() -> None:
        done = 0
        while True:
            report = process_batch(hub, limit=5)
            done += report.done
            if report.claimed == 0:
                break
        totals.append(done)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(totals) == 60
    assert count(hub.engine, tickets) == 60


def test_parallel_workers_same_external_id_make_one_ticket(make_hub, fake_clock):
    """Racing creates for one external id end as one ticket; the loser is deferred and retried."""
    hub = make_hub()
    events = [
        RawEvent(f"s{i}", f'{{"key": "s{i}", "external_id": "X-1", "data": {{"title": "Rev {i}"}}}}'.encode())
        for i in range(20)
    ]
    receive(hub.engine, "src", events)

    def waiting() -> int:
        with read(hub.engine) as conn:
            query = select(func.count()).select_from(inbox).where(inbox.c.state == "received")
            return int(conn.execute(query).scalar_one())

    def work() -> None:
        for _ in range(200):
            if process_batch(hub, limit=1).claimed == 0:
                if not waiting():
                    return
                fake_clock.advance(minutes=5)  # let deferred events come due

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(hub.engine, tickets) == 1
    with read(hub.engine) as conn:
        assert conn.execute(select(inbox.c.state)).scalars().all() == ["done"] * 20
