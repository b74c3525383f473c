"""What each HR instance last said about a person, kept from the person events it produced.
The drift check reads it; it is written in the worker's transaction with the event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from hub.store.tables import hr_people
from hub.tickets.service import insert_ignore


def record(
    conn: Connection,
    instance: str,
    kind: str,
    person: dict[str, Any],
    effective_at: datetime,
    rescinded: bool,
    now: datetime,
) -> dict[str, Any]:
    """Returns the person as now known (earlier fields the event left out are kept). A joiner
    is active from its effective date, a leaver inactive from its; a rescinded one undoes that.
    A mover only refreshes the person's fields."""
    eid = person["employee_id"]
    row = conn.execute(
        select(hr_people).where(hr_people.c.instance == instance, hr_people.c.employee_id == eid)
    ).first()
    merged = {**(row.person if row else {}), **{k: v for k, v in person.items() if v is not None}}
    if kind == "joiner":
        active = not rescinded
    elif kind == "leaver":
        active = rescinded
    else:
        active = row.active if row else True
    values = {"person": merged, "active": active, "updated_at": now}
    if kind != "mover" or row is None:
        values["effective_at"] = effective_at
    if row is None:
        insert_ignore(
            conn, hr_people, {"instance": instance, "employee_id": eid, "effective_at": effective_at, **values}
        )
    else:
        conn.execute(
            update(hr_people).where(hr_people.c.instance == instance, hr_people.c.employee_id == eid).values(**values)
        )
    return merged
