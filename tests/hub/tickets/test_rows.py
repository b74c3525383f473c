"""The per-batch cache of ticket rows, subscribers and refs: one read per change or per batch,
never older than the database."""

from __future__ import annotations

from contextlib import AbstractContextManager

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import OperationalError

from hub import clock
from hub.store.db import read, write
from hub.store.tables import subscribers, tickets
from hub.tickets import rows, service
from hub.tickets.service import Actor
from tests.support.statements import recorded

ACTOR = Actor("test")


def _new_ticket(conn, title: str = "Pothole on Main St", email: str | None = "ana@example.org") -> int:
    data = {"title": title, "requester": {"name": "Ana", "email": email} if email else {}}
    return service.create_ticket(
        conn, data, instance="src", connector="webhook", channel="web", prefix="REQ", actor=ACTOR, now=clock.now()
    )


def counting_selects(engine: Engine) -> AbstractContextManager[list[str]]:
    return recorded(engine, "SELECT")


def test_a_new_ticket_is_read_from_the_cache_with_what_the_database_holds(engine):
    with write(engine) as conn:
        ticket_id = _new_ticket(conn)
        conn.commit()
    with write(engine) as conn, rows.cached(conn):
        ticket_id2 = _new_ticket(conn, "Streetlight out")
        with counting_selects(engine) as selects:
            cached = rows.load(conn, ticket_id2)
            subs = rows.subscribers(conn, ticket_id2)
        assert selects == []  # both came from the insert
        fresh = conn.execute(tickets.select().where(tickets.c.id == ticket_id2)).one()
        assert {k: getattr(cached, k) for k in fresh._mapping} == dict(fresh._mapping)
        assert [s.address for s in subs] == ["ana@example.org"]
        with counting_selects(engine) as selects:
            first = rows.load(conn, ticket_id)
            again = rows.load(conn, ticket_id)
        assert len(selects) == 1 and first is again


def test_service_updates_patch_the_cached_row_and_bump_the_version(engine):
    with write(engine) as conn, rows.cached(conn):
        ticket_id = _new_ticket(conn)
        version = rows.load(conn, ticket_id).version
        assert service.change_status(conn, ticket_id, "in_progress", actor=ACTOR, now=clock.now())
        with counting_selects(engine) as selects:
            row = rows.load(conn, ticket_id)
        assert selects == []
        assert (row.status, row.version) == ("in_progress", version + 1)
        stored = conn.execute(tickets.select().where(tickets.c.id == ticket_id)).one()
        assert (stored.status, stored.version) == (row.status, row.version)


def test_any_other_write_to_tickets_or_subscribers_empties_the_cache(engine):
    with write(engine) as conn, rows.cached(conn):
        ticket_id = _new_ticket(conn)
        rows.load(conn, ticket_id)
        conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(queue="water"))
        assert rows.load(conn, ticket_id).queue == "water"
        conn.execute(subscribers.delete().where(subscribers.c.ticket_id == ticket_id))
        assert rows.subscribers(conn, ticket_id) == []
        assert not service.is_party(conn, ticket_id, "ana@example.org")


def test_a_rolled_back_savepoint_leaves_no_trace_in_the_cache(engine):
    with write(engine) as conn, rows.cached(conn):
        ticket_id = _new_ticket(conn)
        savepoint = conn.begin_nested()
        service.change_status(conn, ticket_id, "resolved", actor=ACTOR, now=clock.now())
        service.add_subscriber(conn, ticket_id, "bo@example.org", clock.now())
        assert rows.load(conn, ticket_id).status == "resolved"
        savepoint.rollback()
        assert rows.load(conn, ticket_id).status == "new"
        assert [s.address for s in rows.subscribers(conn, ticket_id)] == ["ana@example.org"]


def test_added_subscribers_are_parties_at_once(engine):
    with write(engine) as conn, rows.cached(conn):
        ticket_id = _new_ticket(conn, email=None)
        assert rows.subscribers(conn, ticket_id) == []
        assert service.add_subscriber(conn, ticket_id, " Bo@Example.org ", clock.now())
        assert not service.add_subscriber(conn, ticket_id, "bo@example.org", clock.now())  # already there
        with counting_selects(engine) as selects:
            assert service.is_party(conn, ticket_id, "BO@example.org")
        assert selects == []
        assert len(rows.subscribers(conn, ticket_id)) == 1


def test_outside_a_batch_every_load_reads_the_database(engine):
    with write(engine) as conn:
        ticket_id = _new_ticket(conn)
        with counting_selects(engine) as selects:
            rows.load(conn, ticket_id)
            rows.load(conn, ticket_id)
        assert len(selects) == 2


def _ticket_with_external_id(conn, external_id: str) -> int:
    return service.create_ticket(
        conn,
        {"title": f"Ticket {external_id}"},
        instance="src",
        connector="webhook",
        channel="web",
        prefix="REQ",
        actor=ACTOR,
        now=clock.now(),
        external_id=external_id,
    )


def test_a_batch_reads_its_refs_and_their_tickets_ahead_in_four_queries(engine):
    with write(engine) as conn:
        ids = {f"X-{n}": _ticket_with_external_id(conn, f"X-{n}") for n in range(30)}
        for key, address in (("X-1", "bo@example.org"), ("X-2", "cy@example.org"), ("X-1", "al@example.org")):
            service.add_subscriber(conn, ids[key], address, clock.now())
    wanted = [("external", "src", key) for key in [*ids, "X-missing"]]
    with write(engine) as conn, rows.cached(conn):
        with counting_selects(engine) as selects:
            rows.prefetch(conn, wanted)
        # the refs; the rows of the tickets they lead to; their duplicates; their subscribers
        assert len(selects) == 4
        with counting_selects(engine) as selects:
            found = {key: service.find_ref(conn, "external", "src", [key]) for key in [*ids, "X-missing"]}
            titles = {key: rows.load(conn, ids[key]).title for key in ids}
            subscribed = {key: [s.address for s in rows.subscribers(conn, ids[key])] for key in ids}
        assert selects == []
        # each ticket's own, oldest first
        assert subscribed == {key: [] for key in ids} | {
            "X-1": ["bo@example.org", "al@example.org"],
            "X-2": ["cy@example.org"],
        }
        assert found == {**ids, "X-missing": None}
        assert titles == {key: f"Ticket {key}" for key in ids}
        # a ticket made later in the batch is found through the cache too
        made = _ticket_with_external_id(conn, "X-missing")
        with counting_selects(engine) as selects:
            assert service.find_ref(conn, "external", "src", ["X-missing"]) == made
        assert selects == []
        # a key that was not read ahead goes to the database
        with counting_selects(engine) as selects:
            assert service.find_ref(conn, "external", "src", ["X-0", "never-read"]) == ids["X-0"]
        assert len(selects) == 1


@pytest.mark.parametrize("count", [1, 2, 16, 17, 101, 230])
def test_the_read_ahead_finds_every_ref_whatever_the_batch_size(engine, count):
    """The keys go in padded chunks of a few fixed sizes (one compiled statement per size)."""
    with write(engine) as conn:
        made = {f"K-{n}": _ticket_with_external_id(conn, f"K-{n}") for n in range(0, count, 2)}
    keys = [f"K-{n}" for n in range(count)]
    with write(engine) as conn, rows.cached(conn):
        with recorded(engine, "SELECT ticket_refs") as selects:
            rows.prefetch(conn, [("external", "src", key) for key in keys])
        assert len(selects) == -(-count // 100)
        assert rows.refs_lookup(conn, [("external", "src", key) for key in keys]) == {
            ("external", "src", key): made.get(key) for key in keys
        }


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite: one writer, no race
def test_a_ref_read_as_absent_but_added_by_another_transaction_is_read_again(engine):
    """Two workers on PostgreSQL: this batch read X-7 as absent; another commits a ticket for it
    first. Our insert of the ref is refused, and the next look-up finds the other ticket."""
    with write(engine) as conn, rows.cached(conn):
        rows.prefetch(conn, [("external", "src", "X-7")])
        assert service.find_ref(conn, "external", "src", ["X-7"]) is None
        with write(engine) as other:
            theirs = _ticket_with_external_id(other, "X-7")
        mine = _new_ticket(conn, "Also X-7")
        assert service.add_refs(conn, [("external", "src", "X-7")], mine) == {("external", "src", "X-7")}
        assert service.find_ref(conn, "external", "src", ["X-7"]) == theirs


def test_in_a_sqlite_batch_a_new_ticket_gets_its_number_with_its_insert(sqlite_engine):
    engine = sqlite_engine
    with write(engine) as conn:
        before = _new_ticket(conn)  # outside a batch: the database picks the id, the number follows
    with write(engine) as conn, rows.cached(conn), recorded(engine, "UPDATE tickets") as updates:
        made = [_new_ticket(conn, f"T{n}", email=None) for n in range(3)]
        with conn.begin_nested() as savepoint:
            _new_ticket(conn, "rolled back", email=None)
            savepoint.rollback()  # its id is free again, and the cache forgot the next id
        made.append(_new_ticket(conn, "after the rollback", email=None))
    assert made == [before + 1, before + 2, before + 3, before + 4]
    assert updates == []
    with read(engine) as conn:
        numbers = dict(conn.execute(select(tickets.c.id, tickets.c.number)).all())
    year = clock.now().year
    assert numbers == {t: f"REQ-{year}-{t:06d}" for t in [before, *made]}


def test_the_read_ahead_knows_which_tickets_have_duplicates_until_one_is_marked(engine):
    with write(engine) as conn:
        original = _ticket_with_external_id(conn, "O-1")
        lonely = _ticket_with_external_id(conn, "L-1")
        dup = _ticket_with_external_id(conn, "D-1")
        conn.execute(update(tickets).where(tickets.c.id == dup).values(duplicate_of_id=original))
    with write(engine) as conn, rows.cached(conn):
        rows.prefetch(conn, [("external", "src", key) for key in ("O-1", "L-1")])
        assert rows.has_duplicates(conn, original) is True
        assert rows.has_duplicates(conn, lonely) is False
        assert rows.has_duplicates(conn, _new_ticket(conn)) is False  # new in the batch
        conn.execute(update(tickets).where(tickets.c.id == dup).values(duplicate_of_id=lonely))
        assert rows.has_duplicates(conn, lonely) is None  # unknown again: the database decides


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite: one writer, no race
@pytest.mark.parametrize("how", ["read ahead", "loaded"])
def test_a_ticket_a_batch_read_stays_locked_until_the_batch_commits(engine, how):
    """Another worker cannot change a ticket between this batch reading it and writing its own
    change, which would overwrite the other's (a lost update): it waits for the batch."""
    with write(engine) as conn:
        ticket_id = _ticket_with_external_id(conn, "L-1")
    change = update(tickets).where(tickets.c.id == ticket_id).values(title="Changed by another worker")
    with write(engine) as conn, rows.cached(conn):
        if how == "read ahead":
            rows.prefetch(conn, [("external", "src", "L-1")])
        else:
            rows.load(conn, ticket_id)
        with engine.connect() as other:
            other.exec_driver_sql("SET lock_timeout = '200ms'")
            with pytest.raises(OperationalError, match="lock"):
                other.execute(change)
            other.rollback()
    with write(engine) as other:
        other.execute(change)  # once the batch committed


def test_outside_a_batch_reading_a_ticket_locks_nothing(engine):
    with write(engine) as conn:
        ticket_id = _new_ticket(conn)
    with read(engine) as conn:
        rows.load(conn, ticket_id)
        with write(engine) as other:
            other.execute(update(tickets).where(tickets.c.id == ticket_id).values(title="Changed meanwhile"))
    with read(engine) as conn:
        assert rows.load(conn, ticket_id).title == "Changed meanwhile"
