"""Group commit: many concurrent requests, one transaction, each answered only once it is durable."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError

from hub.pipeline.group_commit import GroupCommitter
from hub.pipeline.inbox import receive
from hub.sdk import RawEvent
from hub.store.db import make_engine, read, sqlite_writer, write
from hub.store.migrate import upgrade
from hub.store.tables import inbox


def count(engine) -> int:
    with read(engine) as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


def test_group_commit_many_threads_each_event_once(engine):
    committer = GroupCommitter(engine, max_batch=50)
    results: list = []
    lock = threading.Lock()

    def send(n: int) -> None:
        # every event is delivered twice, by two different threads
        stored = committer.receive("hook", [RawEvent(f"evt-{n % 100}", b"{}")])
        with lock:
            results.extend(stored)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    committer.close()
    assert count(engine) == 100
    assert sum(1 for r in results if not r.duplicate) == 100
    assert len({r.inbox_id for r in results}) == 100


def test_a_failing_event_fails_only_its_own_request(engine):
    committer = GroupCommitter(engine)
    good = committer.submit("hook", [RawEvent("ok-1", b"{}")])
    bad = committer.submit("hook", [RawEvent("   ", b"{}")])  # empty key
    assert good.result(10)[0].duplicate is False
    with pytest.raises(ValueError, match="empty dedup key"):
        bad.result(10)
    committer.close()
    assert count(engine) == 1


def _columns(engine, key: str) -> dict:
    with read(engine) as conn:
        row = conn.execute(select(inbox).where(inbox.c.dedup_key == key)).one()
    return {k: v for k, v in row._mapping.items() if k not in ("id", "dedup_key")}


def test_rows_read_back_exactly_as_rows_stored_through_sqlalchemy(engine, fake_clock):
    """The committer's SQLite path writes through the DBAPI itself: the same row must come back."""
    received = datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=UTC)
    headers = {"content-type": "application/json", "webhook-id": "msg_1", "x-note": "naïve ünïcode"}
    body = '{"title": "Straßenlaterne defekt"}'.encode()

    def sent(key: str) -> RawEvent:
        return RawEvent(key, body, headers, "application/json", received)

    receive(engine, "hook", [sent("through-sqlalchemy")])
    committer = GroupCommitter(engine)
    stored = committer.receive("hook", [sent("through-committer")])
    committer.close()
    assert stored[0].duplicate is False
    via_committer = _columns(engine, "through-committer")
    assert via_committer == _columns(engine, "through-sqlalchemy")
    assert via_committer["received_at"] == received and via_committer["headers"] == headers
    assert via_committer["body"] == body and via_committer["state"] == "received"


def test_a_batch_bigger_than_one_statement_with_earlier_duplicates(engine):
    receive(engine, "hook", [RawEvent("k-10", b"{}"), RawEvent("k-1100", b"{}")])
    committer = GroupCommitter(engine)
    stored = committer.receive("hook", [RawEvent(f"k-{n}", b"{}") for n in range(1200)])
    committer.close()
    assert [s.dedup_key for s in stored if s.duplicate] == ["k-10", "k-1100"]
    assert len({s.inbox_id for s in stored}) == 1200
    assert count(engine) == 1200


def test_committer_queues_behind_another_writer(sqlite_engine):
    """SQLite has one writer: while a worker's transaction holds the write lock, the webhook's
    event waits for it, then lands."""
    engine = sqlite_engine
    committer = GroupCommitter(engine)
    holding = threading.Event()
    release = threading.Event()

    def worker_transaction() -> None:
        with write(engine) as conn:
            conn.execute(inbox.update().values(attempts=inbox.c.attempts))
            holding.set()
            release.wait(10)

    other = threading.Thread(target=worker_transaction)
    other.start()
    holding.wait(10)
    pending = committer.submit("hook", [RawEvent("late", b"{}")])
    time.sleep(0.3)
    assert not pending.done()
    release.set()
    other.join()
    assert pending.result(10)[0].duplicate is False
    committer.close()
    assert count(engine) == 1


def test_requests_that_arrive_while_a_worker_holds_the_lock_share_the_next_commit(sqlite_engine, monkeypatch):
    """The committer gathers its batch once the write lock is its own: events that came in while
    the worker's batch held it all go into the commit right after that batch, rather than the
    first one alone and the rest behind the worker's next batch."""
    engine = sqlite_engine
    committer = GroupCommitter(engine)
    commits: list[int] = []
    store = committer._store
    monkeypatch.setattr(committer, "_store", lambda groups: commits.append(len(groups)) or store(groups))
    with sqlite_writer(engine):  # the worker's batch
        first = committer.submit("hook", [RawEvent("first", b"{}")])
        deadline = time.monotonic() + 10
        while not committer._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.01)  # the committer took the first and waits for the lock
        later = [committer.submit("hook", [RawEvent(f"later-{n}", b"{}")]) for n in range(5)]
        time.sleep(0.1)
        assert not first.done()
    assert [f.result(10)[0].duplicate for f in [first, *later]] == [False] * 6
    committer.close()
    assert commits == [6]
    assert count(engine) == 6


def test_sqlite_refusing_writes_fails_the_request_and_keeps_the_committer(tmp_path):
    """A full or read-only disk: the request gets SQLAlchemy's error (the webhook answers 503),
    nothing of the event is kept, and the committer serves the next request once writes work."""
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    engine = make_engine(url)
    upgrade(engine)
    refuse = {"on": True}

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn, _record):
        if refuse["on"]:
            dbapi_conn.execute("PRAGMA query_only=ON")

    engine.dispose()
    committer = GroupCommitter(engine)
    with pytest.raises(DBAPIError) as failure:
        committer.receive("hook", [RawEvent("secret-body", b'{"password": "hunter2"}')])
    assert "hunter2" not in str(failure.value)
    assert count(engine) == 0
    committer.close()
    refuse["on"] = False
    engine.dispose()
    committer = GroupCommitter(engine)
    assert committer.receive("hook", [RawEvent("after", b"{}")])[0].duplicate is False
    committer.close()
    engine.dispose()
