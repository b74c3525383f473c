"""Many citizens report the same pothole: link the later reports to the first one, subscribe
their reporters to it, and when the original is fixed, resolve every duplicate too, so each
reporter hears it on the channel they used, under their own ticket number.

A new request is a likely duplicate of an open one with the same category, reported within the
configured window, at the same address or within `distance_m` metres.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from hub.store.tables import tickets
from hub.tickets import rows, service
from hub.tickets.desk_config import DeskConfig
from hub.tickets.service import Actor, Change

ACTOR = Actor("duplicates")
_EARTH_M = 6_371_000.0
_WORDS = {"street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr", "north": "n",
          "south": "s", "east": "e", "west": "w", "lane": "ln", "place": "pl", "court": "ct"}  # fmt: skip


def distance_m(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Great-circle distance in metres (haversine), None without coordinates on both."""
    if a.get("lat") is None or a.get("long") is None or b.get("lat") is None or b.get("long") is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a["lat"], a["long"], b["lat"], b["long"]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_M * math.asin(math.sqrt(h))


def address_key(text: str | None) -> str:
    """'401 Main Street, ' and '401 main st' are the same address."""
    words = re.findall(r"[a-z0-9]+", (text or "").lower())
    return " ".join(_WORDS.get(w, w) for w in words)


def same_place(a: dict[str, Any] | None, b: dict[str, Any] | None, within_m: float) -> float | None:
    """A closeness score (metres; 0 for the same address) or None when the places differ."""
    a, b = a or {}, b or {}
    metres = distance_m(a, b)
    if metres is not None and metres <= within_m:
        return metres
    key = address_key(a.get("address"))
    if key and key == address_key(b.get("address")):
        return 0.0
    return None


def link_if_duplicate(conn: Connection, desk: DeskConfig, ticket_id: int, now: datetime) -> int | None:
    """On creation: link the ticket to the open original it duplicates. Returns the original's id."""
    cfg = desk.duplicates
    if not cfg.enabled:
        return None
    row = rows.load(conn, ticket_id)
    if row is None or not row.category or row.type not in cfg.types:
        return None
    if cfg.categories and row.category.lower() not in cfg.categories:
        return None
    if not row.location:
        return None
    candidates = conn.execute(
        select(tickets.c.id, tickets.c.location)
        .where(
            tickets.c.category == row.category,
            tickets.c.created_at >= now - timedelta(seconds=cfg.window),
            tickets.c.status.in_(service.OPEN_STATUSES),
            tickets.c.duplicate_of_id.is_(None),
            tickets.c.id != ticket_id,
        )
        .order_by(tickets.c.created_at, tickets.c.id)
        .limit(500)
    ).all()
    scored = [(s, c.id) for c in candidates if (s := same_place(row.location, c.location, cfg.distance_m)) is not None]
    if not scored:
        return None
    original = min(scored)[1]
    _link(conn, row, original, now)
    return int(original)


def _link(conn: Connection, row: Any, original: int, now: datetime) -> None:
    conn.execute(update(tickets).where(tickets.c.id == row.id).values(duplicate_of_id=original))
    entries = [
        (row.id, "duplicate_of", "duplicate_of_id", None, original),
        (original, "duplicate_linked", "duplicates", None, row.number),
    ]
    service.write_history(
        conn,
        [
            {"ticket_id": t, "at": now, "actor": ACTOR.name, "action": a, "field": f, "old": o, "new": n}
            for t, a, f, o, n in entries
        ],
    )
    requester = row.requester or {}
    address = requester.get("email") or requester.get("phone")
    if address:
        service.add_subscriber(conn, original, address, now, name=requester.get("name"), channel=row.channel)


def on_change(conn: Connection, desk: DeskConfig, change: Change, now: datetime) -> None:
    """When an original is resolved (or closed), its open duplicates are resolved with it."""
    if change.action != "status" or change.fields["status"][1] not in ("resolved", "closed"):
        return
    if rows.has_duplicates(conn, change.ticket_id) is False:  # read ahead by the worker's batch
        return
    open_duplicates = conn.execute(_OPEN_DUPLICATES, {"original": change.ticket_id}).scalars()
    ids = list(open_duplicates)
    if not ids:
        return
    number = conn.execute(select(tickets.c.number).where(tickets.c.id == change.ticket_id)).scalar()
    for dup in ids:
        note = f"Fixed: this was the same issue as {number}, which has been resolved."
        service.change_status(conn, int(dup), "resolved", actor=ACTOR, now=now, note=note)


_OPEN_DUPLICATES = select(tickets.c.id).where(
    tickets.c.duplicate_of_id == bindparam("original"), tickets.c.status.in_(service.OPEN_STATUSES)
)
