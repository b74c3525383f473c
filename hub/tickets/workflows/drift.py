"""Drift check: HR says who should have an account, the directory says who has one. A scheduled
job reads every directory user (the connector's `users_delta`, e.g. Microsoft 365 / Entra ID)
and opens one ticket per person who left in HR but is still enabled, or is enabled without any
HR record. One ticket per person and finding, never one per run (ticket_refs kind `drift`)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hub import clock
from hub.config import parse_duration
from hub.runtime import Hub
from hub.sdk.errors import FatalError
from hub.store.db import write
from hub.store.tables import hr_people
from hub.tickets import service

log = logging.getLogger("hub.drift")
ACTOR = service.Actor("drift-check")


def check(hub: Hub) -> int:
    """Run once; returns how many tickets it opened."""
    conf = hub.settings.drift
    if not conf:
        return 0
    directory = hub.connector(conf["directory"])
    users_delta = getattr(directory, "users_delta", None)
    if users_delta is None:
        raise FatalError(f"instance {conf['directory']!r} cannot list directory users (no users_delta)")
    users, _link = users_delta(None)  # a full listing each run: drift is about the whole state
    ignore = [re.compile(p, re.IGNORECASE) for p in conf.get("ignore", [])]
    grace = timedelta(seconds=parse_duration(conf.get("grace", "1h")))
    opened = 0
    now = clock.now()
    with write(hub.engine) as conn:
        people = conn.execute(select(hr_people)).all()
        by_id = {p.employee_id: p for p in people}
        by_mail = {str(p.person.get("email") or "").lower(): p for p in people if p.person.get("email")}
        for user in users:
            if "@removed" in user or not user.get("accountEnabled"):
                continue
            upn = str(user.get("userPrincipalName") or "")
            if any(p.search(upn) for p in ignore):
                continue
            eid = user.get("employeeId")
            known = by_id.get(str(eid)) if eid else by_mail.get(str(user.get("mail") or upn).lower())
            if known is None:
                if not eid and conf.get("require_employee_id", True):
                    continue
                finding = (f"unknown:{user['id']}", f"Enabled account without an HR record: {upn}")
            elif not known.active and known.effective_at + grace <= now:
                left = clock.isoformat(known.effective_at)
                finding = (f"left:{known.employee_id}:{left}", f"Left on {left[:10]} but still enabled: {upn}")
            else:
                continue
            opened += _open(conn, hub, conf, finding, user, known, now)
    return opened


def _open(
    conn: Any, hub: Hub, conf: dict[str, Any], finding: tuple[str, str], user: dict[str, Any], known: Any, now: Any
) -> int:
    key, title = finding
    scope = f"drift:{conf['directory']}"
    if service.find_ref(conn, "drift", scope, [key]) is not None:
        return 0
    lines = [
        title,
        "",
        f"Directory user: {user.get('displayName')} <{user.get('userPrincipalName')}> (id {user['id']})",
    ]
    if known is not None:
        lines.append(
            f"HR ({known.instance}): employee {known.employee_id}, inactive since {clock.isoformat(known.effective_at)}"
        )
    lines.append("Disable the account, or fix the HR record; this ticket is opened once per person.")
    ticket = service.create_ticket(
        conn,
        {
            "type": "alert",
            "title": title,
            "description": "\n".join(lines),
            "queue": conf.get("queue", "it"),
            "priority": "high",
            "attributes": {"drift": key, "directory_user_id": user["id"]},
        },
        instance=conf["directory"],
        connector=hub.instance(conf["directory"]).connector,
        channel="internal",
        prefix=hub.settings.ticket_prefix,
        actor=ACTOR,
        now=now,
    )
    service.add_ref(conn, "drift", scope, key, ticket)
    return 1


def job(hub: Hub) -> None:
    """The scheduler's entry: failures are logged, never stop the scheduler."""
    try:
        opened = check(hub)
    except Exception as exc:
        log.warning("drift check failed: %s: %s", type(exc).__name__, exc)
        return
    if opened:
        log.info("drift check opened %d ticket(s)", opened)
