"""Rows queued for one executemany at the end of the worker's transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from hub import clock
from hub.store import deferred
from hub.store.db import write
from hub.store.tables import ticket_history, ticket_metrics
from hub.tickets import service, sla
from hub.tickets.service import Actor


def _ticket(conn) -> int:
    return service.create_ticket(
        conn, {"title": "Graffiti"}, instance="src", connector="webhook", channel="web", prefix="REQ",
        actor=Actor("test"), now=clock.now(),
    )  # fmt: skip


def _history_actions(conn, ticket_id: int) -> list[str]:
    query = select(ticket_history.c.action).where(ticket_history.c.ticket_id == ticket_id).order_by(ticket_history.c.id)
    return list(conn.execute(query).scalars())


def test_history_is_queued_until_flushed_and_keeps_its_order(engine):
    with write(engine) as conn, deferred.deferring(conn):
        ticket_id = _ticket(conn)
        service.change_status(conn, ticket_id, "in_progress", actor=Actor("agent"), now=clock.now())
        service.add_comment(
            conn, ticket_id, {"body": "on it"}, actor=Actor("agent"), now=clock.now(), from_requester=False
        )
        assert _history_actions(conn, ticket_id) == []  # nothing written yet
        deferred.flush(conn)
        assert _history_actions(conn, ticket_id) == ["created", "status", "commented"]
        deferred.flush(conn)  # a second flush writes nothing twice
        assert len(_history_actions(conn, ticket_id)) == 3


def test_outside_deferring_rows_are_written_at_once(engine):
    with write(engine) as conn:
        ticket_id = _ticket(conn)
        assert _history_actions(conn, ticket_id) == ["created"]


def test_an_upsert_queued_twice_for_one_ticket_is_written_once_with_the_last_values(engine):
    """PostgreSQL refuses a multi-row ON CONFLICT DO UPDATE touching one row twice."""
    with write(engine) as conn, deferred.deferring(conn):
        ticket_id = _ticket(conn)
        base = {"ticket_id": ticket_id, "created_at": clock.now(), "channel": "web", "priority": "normal",
                "type": "service_request", "reopens": 0}  # fmt: skip
        statement = sla._upsert_statement(conn.dialect.name, ticket_metrics, tuple(k for k in base if k != "ticket_id"))
        deferred.execute(conn, statement, [base], key="ticket_id")
        deferred.execute(conn, statement, [{**base, "reopens": 2}], key="ticket_id")
        deferred.flush(conn)
        found = conn.execute(select(func.count(), func.max(ticket_metrics.c.reopens))).one()
        assert tuple(found) == (1, 2)


def test_queueing_no_rows_writes_nothing(engine):
    """An empty executemany would run the INSERT once with no values: on SQLite a row of NULLs."""
    with write(engine) as conn, deferred.deferring(conn):
        ticket_id = _ticket(conn)
        deferred.flush(conn)
        before = conn.execute(select(func.count()).select_from(ticket_history)).scalar_one()
        deferred.execute(conn, service._INSERT_HISTORY, [])
        deferred.flush(conn)
        assert conn.execute(select(func.count()).select_from(ticket_history)).scalar_one() == before
        assert _history_actions(conn, ticket_id) == ["created"]
