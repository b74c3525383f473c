"""Revision 0003_desk gives tickets that existed before it a metrics row, so they count in reports."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from hub.store.migrate import upgrade
from hub.store.tables import ticket_metrics, tickets


def test_existing_tickets_get_their_metrics_row(db_url):
    from hub.store.db import make_engine

    engine = make_engine(db_url)
    upgrade(engine, "0001")
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    base = {"type": "incident", "description": "", "priority": "high", "channel": "email", "requester": {},
            "source": {"instance": "x"}, "source_instance": "x", "attachments": [], "tags": [], "attributes": {},
            "created_at": at, "updated_at": at, "version": 1}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(tickets), [
            {**base, "title": "open", "status": "in_progress", "queue": "it"},
            {**base, "title": "done", "status": "resolved", "queue": "it", "resolved_at": at},
        ])  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(ticket_metrics).order_by(ticket_metrics.c.ticket_id)).all()
    assert [(r.queue, r.priority, r.finished_at, r.first_response_seconds) for r in rows] == [
        ("it", "high", None, None),
        ("it", "high", at, None),
    ]
    engine.dispose()
