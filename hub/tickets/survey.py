"""Satisfaction survey answers: 1-5 and an optional comment, stored on the ticket
(attributes.survey, with history) and in ticket_metrics for the reports (the SLA listener made
that row when the ticket was created, or migration 0003_desk for older tickets)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from hub import clock
from hub.store.tables import ticket_metrics, tickets
from hub.tickets import service
from hub.tickets.service import Actor

ANSWERABLE = ("resolved", "closed")
MAX_COMMENT = 2000


class SurveyError(ValueError):
    """The answer cannot be taken (not resolved yet, rating out of range)."""


def record(conn: Connection, ticket_id: int, rating: int, comment: str | None, now: datetime) -> None:
    """Store (or replace) the requester's answer."""
    if not 1 <= rating <= 5:
        raise SurveyError("the rating is a number from 1 to 5")
    status = conn.execute(select(tickets.c.status).where(tickets.c.id == ticket_id)).scalar()
    if status not in ANSWERABLE:
        raise SurveyError("the survey opens once the request is resolved")
    answer = {"rating": rating, "comment": (comment or "").strip()[:MAX_COMMENT] or None, "at": clock.isoformat(now)}
    service.update_fields(conn, ticket_id, {"attributes": {"survey": answer}}, actor=Actor("requester"), now=now)
    conn.execute(update(ticket_metrics).where(ticket_metrics.c.ticket_id == ticket_id).values(satisfaction=rating))
