"""The pipeline end to end over the reference connector, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import event, func, select

from hub import clock
from hub.pipeline import events as inbox_events
from hub.pipeline.inbox import receive
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import BatchSizer, drain, process_batch
from hub.sdk import RawEvent
from hub.store.db import read, sqlite_writer, write
from hub.store.tables import comments, inbox, tickets
from hub.tickets import queries
from tests import reference_connector as ref
from tests.support.statements import on_statement, recorded


def raw(key: str, **item: object) -> RawEvent:
    return RawEvent(key, json.dumps({"key": key, **item}).encode())


def ticket_count(hub) -> int:
    with read(hub.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(tickets)).scalar_one())


def test_event_received_twice_gives_one_ticket(make_hub):
    hub = make_hub()
    event = raw("d-1", external_id="X-1", data={"title": "Broken chair"})
    first = receive(hub.engine, "src", [event])
    second = receive(hub.engine, "src", [event])
    assert first[0].duplicate is False and second[0].duplicate is True
    assert second[0].inbox_id == first[0].inbox_id
    report = drain(hub)
    assert report.done == 1
    assert ticket_count(hub) == 1


def test_same_external_id_updates_the_same_ticket(make_hub):
    hub = make_hub()
    receive(hub.engine, "src", [raw("a", external_id="X-1", data={"title": "Leak", "priority": "normal"})])
    receive(hub.engine, "src", [raw("b", external_id="X-1", data={"title": "Leak", "priority": "urgent"})])
    drain(hub)
    with read(hub.engine) as conn:
        (doc,) = queries.search(conn)
        hist = queries.history(conn, doc["id"])
    assert doc["priority"] == "urgent"
    assert any(h["field"] == "priority" and h["old"] == "normal" and h["new"] == "urgent" for h in hist)


def test_reply_to_known_thread_becomes_comment_and_status_and_numbering(make_hub):
    hub = make_hub()
    receive(
        hub.engine,
        "src",
        [raw("m1", thread_refs=["<m1@x>"], data={"title": "VPN down", "requester": {"email": "a@city.gov"}})],
    )
    receive(
        hub.engine,
        "src",
        [
            raw(
                "m2",
                in_reply_to=["<m1@x>"],
                thread_refs=["<m2@x>"],
                data={"title": "Re: VPN down", "description": "still down"},
            )
        ],
    )
    receive(hub.engine, "src", [raw("m3", type="ticket.status", in_reply_to=["<m2@x>"], data={"status": "resolved"})])
    drain(hub)
    with read(hub.engine) as conn:
        (doc,) = queries.search(conn)
        notes = queries.comment_list(conn, doc["id"])
    assert doc["number"].startswith("REQ-") and doc["number"].endswith("-000001")
    assert [c["body"] for c in notes] == ["still down"]
    assert doc["status"] == "resolved" and doc["resolved_at"]


def test_ticket_number_in_text_only_threads_for_parties(make_hub):
    hub = make_hub()
    receive(hub.engine, "src", [raw("t1", data={"title": "Badge", "requester": {"email": "owner@city.gov"}})])
    drain(hub)
    with read(hub.engine) as conn:
        number = queries.search(conn)[0]["number"]
    receive(
        hub.engine,
        "src",
        [
            raw(
                "t2",
                ticket_number=number,
                actor={"email": "stranger@evil.example"},
                data={"title": f"Re: [{number}]", "description": "let me in"},
            ),
            raw(
                "t3",
                ticket_number=number,
                actor={"email": "OWNER@city.gov"},
                data={"title": f"Re: [{number}]", "description": "thanks"},
            ),
        ],
    )
    drain(hub)
    with read(hub.engine) as conn:
        assert ticket_count(hub) == 2  # the stranger opened a new ticket
        first = queries.get(conn, number)
        assert [c["body"] for c in queries.comment_list(conn, first["id"])] == ["thanks"]


def test_mapping_failure_is_dead_lettered_then_replayed(make_hub, write_config):
    broken = """
    hub: {data_dir: {data_dir}}
    instances:
      - id: hook
        connector: webhook
        mapping:
          fields:
            ticket.create:
              title: {path: /subject, required: true}
    """
    hub = make_hub(broken)
    receive(hub.engine, "hook", [RawEvent("e1", b'{"summary": "Pothole on 5th"}')])
    report = drain(hub)
    assert report.dead == 1
    with read(hub.engine) as conn:
        (dead,) = inbox_events.listing(conn, state="dead")
    assert "fields.ticket.create.title: required value is missing" in dead["last_error"]

    fixed = make_hub(broken.replace("/subject", "/summary"))
    with write(fixed.engine) as conn:
        assert inbox_events.replay(conn, all_dead=True) == 1
    assert drain(fixed).done == 1
    with read(fixed.engine) as conn:
        assert [t["title"] for t in queries.search(conn)] == ["Pothole on 5th"]
        assert inbox_events.listing(conn, state="dead") == []


def test_replaying_a_done_event_does_not_duplicate(make_hub):
    hub = make_hub()
    receive(hub.engine, "src", [raw("r1", data={"title": "No external id"})])
    receive(
        hub.engine,
        "src",
        [raw("r2", type="ticket.comment", external_id=None, in_reply_to=["nope"], data={"body": "orphan"})],
    )
    drain(hub)
    with write(hub.engine) as conn:
        ids = [r["id"] for r in inbox_events.listing(conn)]
        inbox_events.replay(conn, ids)
    drain(hub)
    assert ticket_count(hub) == 1


def test_invalid_canonical_event_names_the_field(make_hub):
    hub = make_hub()
    receive(hub.engine, "src", [raw("bad", data={"title": "x", "priority": "whenever"})])
    drain(hub)
    with read(hub.engine) as conn:
        (dead,) = inbox_events.listing(conn, state="dead")
    assert dead["last_error"].startswith("data.priority:")


def test_comment_for_unknown_ticket_is_deferred_then_dead(make_hub, fake_clock):
    hub = make_hub()
    receive(hub.engine, "src", [raw("c1", type="ticket.comment", external_id="NOPE", data={"body": "hi"})])
    assert process_batch(hub).deferred == 1
    assert process_batch(hub).claimed == 0  # waits before the next attempt
    for _ in range(10):
        fake_clock.advance(minutes=10)
        process_batch(hub)
    with read(hub.engine) as conn:
        (dead,) = inbox_events.listing(conn, state="dead")
    assert "no ticket matches NOPE" in dead["last_error"]


def test_ignored_events_are_kept_with_reason(make_hub):
    hub = make_hub()
    receive(hub.engine, "src", [raw("i1", ignore=True, data={})])
    assert drain(hub).ignored == 1
    with read(hub.engine) as conn:
        (row,) = inbox_events.listing(conn, state="ignored")
    assert "nothing to do" in row["last_error"]


def test_poll_stores_cursor_with_events_and_resumes(make_hub):
    hub = make_hub()
    ref.SOURCES["src"].extend({"key": f"p{i}", "data": {"title": f"Item {i}"}} for i in range(7))
    report = poll_instance(hub, "src")
    assert (report.pages, report.received) == (3, 7)
    ref.SOURCES["src"].append({"key": "p7", "data": {"title": "Item 7"}})
    again = poll_instance(hub, "src")
    assert (again.received, again.duplicates) == (1, 0)
    drain(hub)
    assert ticket_count(hub) == 8


def test_worker_killed_before_commit_loses_nothing(make_hub, monkeypatch):
    """A crash inside the batch transaction rolls everything back; the events stay received."""
    hub = make_hub()
    receive(hub.engine, "src", [raw(f"k{i}", data={"title": f"T{i}"}) for i in range(3)])
    from hub.pipeline import worker

    calls = {"n": 0}
    real_finish = worker._final_state

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("killed")
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(worker, "_final_state", crash_on_third)
    with pytest.raises(SystemExit):
        process_batch(hub)
    monkeypatch.setattr(worker, "_final_state", real_finish)
    with read(hub.engine) as conn:
        states = [r.state for r in conn.execute(select(inbox.c.state)).all()]
        assert states == ["received"] * 3
        assert conn.execute(select(func.count()).select_from(comments)).scalar_one() == 0
    assert ticket_count(hub) == 0
    assert drain(hub).done == 3
    assert ticket_count(hub) == 3


def test_undecodable_text_is_cleaned_not_dead_lettered(make_hub, monkeypatch):
    hub = make_hub()
    connector = hub.connector("src")
    monkeypatch.setattr(connector, "normalize", lambda raw: [{"type": "ticket.create", "data": {"title": "Caf\udce9"}}])
    receive(hub.engine, "src", [raw("u1", data={})])
    assert drain(hub).done == 1
    with read(hub.engine) as conn:
        assert [t["title"] for t in queries.search(conn)] == ["Caf?"]


def test_a_failing_event_reruns_its_batch_without_doubling_history_or_metrics(make_hub):
    """The optimistic pass queues history and metrics rows for the end of the batch; when one event
    fails, the batch rolls back and reruns with savepoints: every good event's rows exist once."""
    from hub.store.tables import ticket_history, ticket_metrics

    hub = make_hub()
    receive(
        hub.engine,
        "src",
        [
            raw("a1", external_id="A", data={"title": "Broken bench"}),
            raw("x1", type="ticket.comment", external_id="NOPE", data={"body": "lost"}),
            raw("a2", type="ticket.comment", external_id="A", data={"body": "still broken"}),
        ],
    )
    report = process_batch(hub)
    assert (report.done, report.deferred) == (2, 1)
    with read(hub.engine) as conn:
        (ticket_id,) = conn.execute(select(tickets.c.id)).scalars()
        actions = list(
            conn.execute(
                select(ticket_history.c.action)
                .where(ticket_history.c.ticket_id == ticket_id, ticket_history.c.actor.like("connector:%"))
                .order_by(ticket_history.c.id)
            ).scalars()
        )
        metrics_rows = conn.execute(select(func.count()).select_from(ticket_metrics)).scalar_one()
        bodies = list(conn.execute(select(comments.c.body)).scalars())
    assert actions == ["created", "commented"]
    assert metrics_rows == 1
    assert bodies == ["still broken"]


def test_a_deadlock_defers_the_event_instead_of_dead_lettering_it(make_hub, fake_clock, monkeypatch):
    """Two workers whose batches lock the same tickets in opposite order: PostgreSQL aborts one
    with a deadlock (SQLSTATE 40P01). That event is tried again later, not lost to the dead letters."""
    from sqlalchemy.exc import OperationalError

    from hub.pipeline import worker

    class Deadlock(Exception):
        sqlstate = "40P01"

    real_apply = worker.apply_event
    calls = {"n": 0}

    def deadlock_twice(ctx, event):
        calls["n"] += 1
        if calls["n"] <= 2:  # the optimistic pass, then the pass with savepoints
            raise OperationalError("UPDATE tickets ...", {}, Deadlock("deadlock detected"))
        return real_apply(ctx, event)

    monkeypatch.setattr(worker, "apply_event", deadlock_twice)
    hub = make_hub()
    receive(hub.engine, "src", [raw("d1", data={"title": "Bench broken"})])
    assert process_batch(hub).deferred == 1
    with read(hub.engine) as conn:
        row = conn.execute(select(inbox.c.state, inbox.c.last_error)).one()
    assert row.state == "received" and "database conflict, retried: deadlock detected" in row.last_error
    fake_clock.advance(minutes=1)
    assert process_batch(hub).done == 1
    assert ticket_count(hub) == 1


def test_a_batch_writes_its_refs_and_subscribers_once_and_finds_them_meanwhile(make_hub):
    """New tickets' refs and subscribers are written with the batch; later events of the same
    batch already thread onto them and recognise their requesters as parties."""
    from hub.store.tables import subscribers, ticket_refs

    hub = make_hub()
    receive(
        hub.engine,
        "src",
        [
            raw(
                "n1", external_id="A", thread_refs=["<a@x>"], data={"title": "Leak", "requester": {"email": "a@x.org"}}
            ),
            raw(
                "n2", external_id="B", thread_refs=["<b@x>"], data={"title": "Noise", "requester": {"email": "b@x.org"}}
            ),
            raw("c1", type="ticket.comment", external_id="A", actor={"email": "a@x.org"}, data={"body": "worse"}),
            raw("c2", type="ticket.create", in_reply_to=["<a@x>"], data={"title": "Re: Leak", "description": "still"}),
            # its own message id is one the batch already knows: no ref to add
            raw("c3", type="ticket.comment", external_id="A", thread_refs=["<a@x>"], data={"body": "again"}),
        ],
    )
    with recorded(hub.engine, "INSERT INTO ticket_refs", "INSERT INTO subscribers") as inserts:
        report = process_batch(hub)
    assert report.done == 5
    assert sorted(i.split()[2] for i in inserts) == ["subscribers", "ticket_refs"]  # one each for the batch
    with read(hub.engine) as conn:
        refs = conn.execute(select(ticket_refs.c.kind, ticket_refs.c.key)).all()
        subs = conn.execute(select(subscribers.c.address)).scalars().all()
        bodies = conn.execute(select(comments.c.body).order_by(comments.c.id)).scalars().all()
    assert {("external", "A"), ("external", "B"), ("thread", "<a@x>"), ("thread", "<b@x>")} <= set(refs)
    assert all(kind and key for kind, key in refs)
    assert sorted(subs) == ["a@x.org", "b@x.org"]
    assert bodies == ["worse", "still", "again"]
    assert ticket_count(hub) == 2


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite: one writer, no race
def test_a_ref_another_worker_commits_after_the_read_ahead_reruns_the_batch(make_hub, engine):
    """This batch read external id R as absent; another worker commits a ticket for R before the
    batch writes its refs. The batch's write is refused, it runs again, and the event updates the
    other ticket: still one ticket for R."""
    from hub.tickets import service

    hub = make_hub()
    receive(hub.engine, "src", [raw("r1", external_id="R", data={"title": "Ours", "priority": "urgent"})])
    raced = {"done": False}

    def other_worker_first(statement: str) -> None:
        if statement.startswith("INSERT INTO tickets") and not raced["done"]:
            raced["done"] = True
            with write(engine) as other:
                service.create_ticket(
                    other,
                    {"title": "Theirs"},
                    instance="src",
                    connector="memory",
                    channel="api",
                    prefix="REQ",
                    actor=service.Actor("test"),
                    now=clock.now(),
                    external_id="R",
                )

    with on_statement(hub.engine, other_worker_first):
        report = process_batch(hub)
    assert report.done == 1
    with read(hub.engine) as conn:
        assert conn.execute(select(tickets.c.title, tickets.c.priority)).all() == [("Ours", "urgent")]


def _backlog(hub, count: int) -> None:
    receive(hub.engine, "src", [raw(f"b-{n}", external_id=f"B-{n}", data={"title": f"T{n}"}) for n in range(count)])


def test_batches_are_sized_to_hold_the_write_lock_about_batch_time(make_hub):
    hub = make_hub()
    _backlog(hub, 40)
    sizer = BatchSizer(hub)
    sizer.seconds = 1e-9  # far less than one event takes
    assert sizer.run(hub).claimed == BatchSizer.FIRST  # nothing measured yet
    assert sizer.run(hub).claimed == 1  # one event is already over the budget
    sizer.seconds = 3600.0
    assert sizer.next() == hub.settings.worker_batch_size  # never more than batch_size
    assert sizer.run(hub).claimed == 40 - BatchSizer.FIRST - 1
    assert ticket_count(hub) == 40


def test_without_a_batch_time_every_batch_is_batch_size(make_hub):
    hub = make_hub()
    hub.settings.worker_batch_seconds = None
    hub.settings.worker_batch_size = 7
    _backlog(hub, 10)
    sizer = BatchSizer(hub)
    assert [sizer.run(hub).claimed for _ in range(3)] == [7, 3, 0]


def test_a_small_batch_time_still_processes_every_event_once(make_hub):
    hub = make_hub()
    hub.settings.worker_batch_seconds = 1e-9
    _backlog(hub, 25)
    assert drain(hub).done == 25
    assert ticket_count(hub) == 25


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_waiting_for_the_write_lock_does_not_shrink_the_next_batch(make_hub):
    """Only the time the batch held the lock counts: webhooks' commits in between do not make
    the worker's batches smaller and smaller."""
    hub = make_hub()
    _backlog(hub, 20)
    sizer = BatchSizer(hub)
    sizer.seconds = 1.0
    holding, release = threading.Event(), threading.Event()

    def another_writer() -> None:
        with sqlite_writer(hub.engine):
            holding.set()
            release.wait(10)

    other = threading.Thread(target=another_writer)
    other.start()
    holding.wait(10)
    threading.Timer(0.5, release.set).start()
    report = sizer.run(hub)  # waits ~0.5 s for the lock, then processes 10 events
    other.join()
    assert report.claimed == BatchSizer.FIRST
    assert report.held < 0.5
    assert sizer.next() > BatchSizer.FIRST  # 1 s per batch: far more than 10 events


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("setting", "expected"), [("normal", 1), ("full", 2)])
def test_worker_commits_wait_for_the_disk_only_when_configured(make_hub, setting, expected):
    """Each batch is redone from its synced inbox rows if a power cut takes it back, so by default
    its commit does not wait for the disk (synchronous NORMAL = 1); `full` (2) syncs every one."""
    hub = make_hub()
    hub.settings.worker_synchronous = setting
    _backlog(hub, 3)
    seen: list[int] = []

    def at_commit(conn):
        seen.append(conn.connection.driver_connection.execute("PRAGMA synchronous").fetchone()[0])

    event.listen(hub.engine, "commit", at_commit)
    try:
        assert process_batch(hub).done == 3
    finally:
        event.remove(hub.engine, "commit", at_commit)
    assert seen == [expected]
    with write(hub.engine) as conn:  # the next writer (a webhook's commit) syncs again
        assert conn.connection.driver_connection.execute("PRAGMA synchronous").fetchone()[0] == 2
