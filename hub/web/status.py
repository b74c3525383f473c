"""The requester's status page: a signed link, no login, showing one ticket's status, public
comments and history, and after resolution the satisfaction survey.

Only what the requester may see leaves this module: no internal notes, no staff addresses, no
routing or SLA details. A forged, altered or expired link gets the same 404 as a missing ticket.
The link is a bearer secret, so pages are never cached, indexed or sent on as a Referer.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, select

from hub import clock
from hub.app import current_hub
from hub.store.db import read, write
from hub.store.tables import comments, ticket_history, tickets
from hub.tickets import status_link, survey
from hub.tickets.desk_config import DeskConfig
from hub.tickets.notify import STATUS_LABELS

bp = Blueprint("status", __name__, template_folder="templates")

EVENTS = {
    "created": "Request received",
    "reopened": "Reopened after your message",
    "duplicate_of": "Linked to the earlier report of the same issue",
}


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    )
    return response


@bp.app_template_filter("status_when")
def _when(value: str) -> str:
    """ISO time -> '27 Nov 2026, 09:00' in the hub's time zone, for people."""
    try:
        local = clock.parse(value).astimezone(ZoneInfo(current_hub().settings.timezone))
    except (ValueError, KeyError):
        return value
    return f"{local.day} {local:%b %Y, %H:%M}"


def _ticket_id(desk: DeskConfig, token: str) -> int:
    ticket_id = status_link.ticket_of(desk, token)
    if ticket_id is None:
        abort(404)
    return ticket_id


def public_view(conn: Connection, desk: DeskConfig, ticket_id: int) -> dict[str, Any]:
    row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
    if row is None:
        abort(404)
    requester = (row.requester_email or "").lower()
    notes = conn.execute(
        select(comments).where(comments.c.ticket_id == ticket_id, comments.c.public.is_(True)).order_by(comments.c.id)
    ).all()
    answer = (row.attributes or {}).get("survey") or {}
    view: dict[str, Any] = {
        "number": row.number,
        "title": row.title,
        "status": row.status,
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "created_at": clock.isoformat(row.created_at),
        "updated_at": clock.isoformat(row.updated_at),
        "department": desk.department_of(row.queue),
        "duplicate_of": _original(conn, row.duplicate_of_id),
        "comments": [
            {
                "at": clock.isoformat(c.at),
                "from": "You" if str((c.author or {}).get("email") or "").lower() == requester else "Service desk",
                "body": c.body,
            }
            for c in notes
        ],
        "history": _history(conn, ticket_id),
        "survey": {
            "open": desk.survey_enabled and row.status in survey.ANSWERABLE,
            "rating": answer.get("rating"),
            "comment": answer.get("comment"),
        },
    }
    return view


def _original(conn: Connection, original_id: int | None) -> dict[str, Any] | None:
    if not original_id:
        return None
    row = conn.execute(select(tickets.c.number, tickets.c.status).where(tickets.c.id == original_id)).first()
    if row is None:
        return None
    return {"number": row.number, "status": row.status, "status_label": STATUS_LABELS.get(row.status, row.status)}


def _history(conn: Connection, ticket_id: int) -> list[dict[str, str]]:
    """Status changes and milestones in plain words; nothing about who or how it was routed."""
    rows = conn.execute(
        select(ticket_history).where(ticket_history.c.ticket_id == ticket_id).order_by(ticket_history.c.id)
    ).all()
    out: list[dict[str, str]] = []
    for h in rows:
        text = None
        if h.action in EVENTS and (h.action != "created" or h.field == "status"):
            text = EVENTS[h.action]
        elif h.action == "status" and h.field == "status":
            text = f"Status: {STATUS_LABELS.get(str(h.new), str(h.new))}"
        elif h.action in ("updated", "routed") and h.field == "assignee" and h.new:
            text = "Assigned to a member of staff"
        if text and not (out and out[-1]["text"] == text):
            out.append({"at": clock.isoformat(h.at), "text": text})
    return out


def _wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/status/<token>")
def status_page(token: str) -> ResponseReturnValue:
    desk = current_hub().config.desk
    ticket_id = _ticket_id(desk, token)
    with read(current_hub().engine) as conn:
        view = public_view(conn, desk, ticket_id)
    if _wants_json():
        return jsonify(view)
    return render_template("status.html", t=view, selected=view["survey"]["rating"], survey_action=_action(token))


def _action(token: str) -> str:
    return f"{request.script_root}/status/{token}/survey"


@bp.get("/status/<token>/survey")
def survey_form(token: str) -> ResponseReturnValue:
    """The one-click link from the resolution message: shows the answer pre-selected. Saving
    takes a POST, because mail scanners open every link in a message."""
    desk = current_hub().config.desk
    ticket_id = _ticket_id(desk, token)
    with read(current_hub().engine) as conn:
        view = public_view(conn, desk, ticket_id)
    selected = request.args.get("rating", type=int) or view["survey"]["rating"]
    return render_template("status.html", t=view, selected=selected, survey_action=_action(token))


@bp.post("/status/<token>/survey")
def survey_answer(token: str) -> ResponseReturnValue:
    hub = current_hub()
    desk = hub.config.desk
    ticket_id = _ticket_id(desk, token)
    body = request.get_json(silent=True) if request.is_json else request.form
    try:
        rating = int((body or {}).get("rating", 0))
    except (TypeError, ValueError):
        rating = 0
    comment = (body or {}).get("comment")
    status, message = 200, "Thank you for your answer."
    with write(hub.engine) as conn:
        try:
            survey.record(conn, ticket_id, rating, str(comment) if comment else None, clock.now())
        except survey.SurveyError as exc:
            status, message = 422, str(exc)
        view = public_view(conn, desk, ticket_id)
    if _wants_json() or request.is_json:
        return jsonify(survey=view["survey"], message=message), status
    page = render_template("status.html", t=view, selected=view["survey"]["rating"], survey_action=_action(token),
                           message=message)  # fmt: skip
    return page, status
