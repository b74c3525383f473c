"""/api/v1/events: the inbox and its dead letters; replay after a fix.

`events:admin` sees what happened to each event and can replay it; the raw payload and headers
(which may hold a citizen's personal data) need the `admin` scope.
"""

from __future__ import annotations

from flask import Response, current_app

from hub.app import current_hub
from hub.pipeline import events
from hub.store.db import read, write
from hub.web.api import bp
from hub.web.api.common import (
    current_token,
    cursor_arg,
    enum_arg,
    id_or_none,
    json_body,
    json_response,
    limit_arg,
    page,
    requires,
    text_arg,
)
from hub.web.problem import Problem


def _wake_worker() -> None:
    wake = current_app.extensions["hub.intake"].wake
    if wake is not None:
        wake()


@bp.get("/events")
@requires("events:admin")
def list_events() -> Response:
    limit = limit_arg()
    with read(current_hub().engine) as conn:
        items = events.listing(
            conn,
            state=enum_arg("state", events.STATES),
            instance=text_arg("instance", 64),
            before_id=cursor_arg(),
            limit=limit,
        )
    return json_response(page(items, limit))


@bp.get("/events/<int:event_id>")
@requires("events:admin")
def get_event(event_id: int) -> Response:
    number = id_or_none(event_id)
    with read(current_hub().engine) as conn:
        doc = events.get(conn, number, with_body=current_token().allows("admin")) if number else None
    if doc is None:
        raise Problem(404, f"no event {event_id}")
    return json_response(doc)


@bp.post("/events/<int:event_id>/replay")
@requires("events:admin")
def replay_one(event_id: int) -> Response:
    number = id_or_none(event_id)
    with write(current_hub().engine) as conn:
        doc = events.get(conn, number) if number else None
        if doc is None:
            raise Problem(404, f"no event {event_id}")
        if doc["state"] == "received":
            raise Problem(409, f"event {event_id} is already waiting to be processed")
        count = events.replay(conn, [number])  # type: ignore[list-item]
    _wake_worker()
    return json_response({"replayed": count}, 202)


@bp.post("/events/replay")
@requires("events:admin")
def replay_many() -> Response:
    body = json_body("Replay")
    with write(current_hub().engine) as conn:
        count = events.replay(conn, body.get("ids", []), all_dead=bool(body.get("all_dead")))
    if count:
        _wake_worker()
    return json_response({"replayed": count}, 202)
