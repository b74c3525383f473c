"""A person event starts, corrects or cancels a workflow (parent ticket + one task ticket each).

Identity: per person, the newest joiner/leaver workflow is the person's current lifecycle step.
A joiner (leaver) while that step is already a non-cancelled onboarding (offboarding) is the same
hire (termination) again: nothing new; a changed effective date moves the scheduled steps; a
rescinded one cancels what is still open. After a leaver, a joiner is a rehire: new onboarding.
Movers are identified by their effective date and changes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from hub import clock, jsonutil
from hub.config import ConfigError
from hub.outbox import queue
from hub.pipeline.apply import ApplyContext, Conflict
from hub.sdk.errors import IgnoreRecord, SkipRecord
from hub.store.tables import tickets, workflow_tasks, workflows
from hub.tickets import service
from hub.tickets.service import Actor
from hub.tickets.workflows import people, progress
from hub.tickets.workflows.templates import Template, context, matches, render

ACTOR = Actor("workflow")
TICKET_TYPES = {
    "joiner": ("onboarding", "Onboarding"),
    "mover": ("transfer", "Transfer"),
    "leaver": ("offboarding", "Offboarding"),
}


def handle(ctx: ApplyContext, event: dict[str, Any]) -> int | None:
    """The parent ticket the event landed on; None when no template applies (the caller then
    opens a plain ticket, as before workflows were configured)."""
    kind = event["type"].split(".", 1)[1]
    data, instance = event["data"], event["instance"]
    effective = clock.parse(data["effective_at"])
    rescinded = bool(data.get("rescinded"))
    changes = data.get("changes") or {}
    person = people.record(ctx.conn, instance, kind, data["person"], effective, rescinded, ctx.now)
    actor = Actor(f"connector:{instance}", ctx.inbox_id)
    if kind == "mover":
        key = f"mover:{person['employee_id']}:{clock.isoformat(effective)}:{_digest(changes)}"
        known = _by_key(ctx.conn, instance, key)
    else:
        known = _current(ctx.conn, instance, person["employee_id"], kind)
        key = f"{kind}:{person['employee_id']}:after:{_last_id(ctx.conn, instance, person['employee_id'])}"
    if known is not None:
        if rescinded:
            cancel(ctx.conn, known, f"HR rescinded the {kind} event", actor, ctx.now)
        elif known.effective_at != effective and known.state == "open":
            move(ctx.conn, known, effective, actor, ctx.now)
        return int(known.ticket_id)
    if rescinded:
        raise IgnoreRecord(f"rescinded {kind} of {person['employee_id']}: no open workflow to cancel")
    try:
        templates = ctx.hub.workflows
    except ConfigError as exc:  # dead-lettered with the reason; replay once the templates are fixed
        raise SkipRecord(f"workflow templates: {exc}") from None
    template = templates.pick(kind, person, changes) if templates is not None else None
    if template is None:
        return None
    return start(ctx, template, instance, person, effective, changes, key)


def _digest(changes: dict[str, Any]) -> str:
    return hashlib.sha256(jsonutil.dumpb(changes)).hexdigest()[:16]


def _by_key(conn: Connection, instance: str, key: str) -> Any:
    return conn.execute(select(workflows).where(workflows.c.instance == instance, workflows.c.event_key == key)).first()


def _last_id(conn: Connection, instance: str, employee_id: str) -> int:
    found = conn.execute(
        select(workflows.c.id)
        .where(workflows.c.instance == instance, workflows.c.employee_id == employee_id, workflows.c.kind != "mover")
        .order_by(workflows.c.id.desc())
        .limit(1)
    ).scalar()
    return int(found or 0)


def _current(conn: Connection, instance: str, employee_id: str, kind: str) -> Any:
    """The person's newest joiner/leaver workflow, when it is of `kind` and was not cancelled."""
    row = conn.execute(
        select(workflows)
        .where(workflows.c.instance == instance, workflows.c.employee_id == employee_id, workflows.c.kind != "mover")
        .order_by(workflows.c.id.desc())
        .limit(1)
    ).first()
    return row if row is not None and row.kind == kind and row.state != "cancelled" else None


def start(
    ctx: ApplyContext,
    template: Template,
    instance: str,
    person: dict[str, Any],
    effective: datetime,
    changes: dict[str, Any],
    key: str,
) -> int:
    conn, now = ctx.conn, ctx.now
    when = clock.isoformat(effective)
    values = context(person, when, changes, instance)
    ticket_type, label = TICKET_TYPES[template.on]
    requester = {
        "name": values["name"],
        "email": person.get("email"),
        "employee_id": person["employee_id"],
        "kind": "employee",
    }
    connector = ctx.hub.instance(instance).connector
    parent = service.create_ticket(
        conn,
        {
            "type": ticket_type,
            "title": render(template.title, values),
            "description": render(template.description, values) or _describe(label, person, when, changes),
            "queue": template.queue,
            "priority": template.priority,
            "requester": requester,
            "attributes": {"person": person, "effective_at": when, "changes": changes, "workflow": template.name},
        },
        prefix=ctx.hub.settings.ticket_prefix,
        actor=Actor(f"connector:{instance}", ctx.inbox_id),
        now=now,
        instance=instance,
        connector=connector,
        channel="hr",
    )
    row = {
        "instance": instance,
        "employee_id": person["employee_id"],
        "kind": template.on,
        "template": template.name,
        "event_key": key,
        "ticket_id": parent,
        "effective_at": effective,
        "state": "open",
        "person": person,
        "created_at": now,
        "updated_at": now,
    }
    if not service.insert_ignore(conn, workflows, row):
        raise Conflict(f"workflow {key} was started concurrently")
    workflow_id = int(_by_key(conn, instance, key).id)
    chosen = [t for t in template.tasks if matches(t.when, person, changes)]
    keys = {t.key for t in chosen}
    for task in chosen:
        child = service.create_ticket(
            conn,
            {
                "type": "task",
                "title": render(task.title, values),
                "description": render(task.description, values),
                "queue": task.queue,
                "priority": task.priority,
                "requester": requester,
                "attributes": {
                    "workflow_id": workflow_id,
                    "task": task.key,
                    "due_at": clock.isoformat(effective + task.due),
                    "automated": task.run is not None,
                },
            },
            prefix=ctx.hub.settings.ticket_prefix,
            actor=ACTOR,
            now=now,
            instance=instance,
            connector=connector,
            channel="hr",
        )
        conn.execute(update(tickets).where(tickets.c.id == child).values(parent_id=parent))
        run = None
        if task.run is not None:
            run = {"instance": task.run.instance, "action": task.run.action, "params": render(task.run.params, values)}
            if not ctx.hub.instance(task.run.instance).enabled:
                note = f"Automation skipped: instance {task.run.instance!r} is disabled. Do this step by hand."
                service.add_comment(conn, child, _note(note), actor=ACTOR, now=now, from_requester=False)
                run = None
        conn.execute(
            workflow_tasks.insert().values(
                workflow_id=workflow_id,
                key=task.key,
                ticket_id=child,
                depends_on=[d for d in task.after if d in keys],
                run=run,
                offset_seconds=int(task.run.at.total_seconds()) if run and task.run else None,
                state="waiting",
            )
        )
    progress.advance(conn, workflow_id, now)
    return parent


def _describe(label: str, person: dict[str, Any], when: str, changes: dict[str, Any]) -> str:
    lines = [f"{label} of {person.get('name') or person['employee_id']}, effective {when}."]
    lines += [f"{k}: {v}" for k, v in person.items() if v]
    lines += [f"changed {k}: {c.get('old')} -> {c.get('new')}" for k, c in changes.items()]
    return "\n".join(lines)


def _note(body: str) -> dict[str, Any]:
    return {"body": body, "public": False, "author": {"name": "workflow"}}


def move(conn: Connection, wf: Any, effective: datetime, actor: Actor, now: datetime) -> None:
    """A corrected effective date: scheduled steps move with it, due dates too."""
    old = clock.isoformat(wf.effective_at)
    new = clock.isoformat(effective)
    conn.execute(update(workflows).where(workflows.c.id == wf.id).values(effective_at=effective, updated_at=now))
    moved = 0
    for task in conn.execute(select(workflow_tasks).where(workflow_tasks.c.workflow_id == wf.id)).all():
        due = clock.parse(service_attr(conn, task.ticket_id, "due_at") or old) + (effective - wf.effective_at)
        service.update_fields(
            conn, task.ticket_id, {"attributes": {"due_at": clock.isoformat(due)}}, actor=actor, now=now
        )
        if task.state == "scheduled" and task.outbox_key:
            at = max(now, effective + _offset(task))
            moved += queue.reschedule(conn, task.outbox_key, at)
    service.update_fields(conn, wf.ticket_id, {"attributes": {"effective_at": new}}, actor=actor, now=now)
    body = f"HR changed the effective date from {old} to {new}; {moved} scheduled step(s) moved."
    service.add_comment(conn, wf.ticket_id, _note(body), actor=actor, now=now, from_requester=False)


def _offset(task: Any) -> timedelta:
    return timedelta(seconds=task.offset_seconds or 0)


def service_attr(conn: Connection, ticket_id: int, name: str) -> Any:
    attributes = conn.execute(select(tickets.c.attributes).where(tickets.c.id == ticket_id)).scalar()
    return (attributes or {}).get(name)


def cancel(conn: Connection, wf: Any, reason: str, actor: Actor, now: datetime) -> None:
    """Withdraw everything still open: pending automated steps, open tasks, the parent."""
    if wf.state != "open":
        return
    conn.execute(update(workflows).where(workflows.c.id == wf.id).values(state="cancelled", updated_at=now))
    for task in conn.execute(select(workflow_tasks).where(workflow_tasks.c.workflow_id == wf.id)).all():
        if task.state in ("done", "cancelled"):
            continue
        conn.execute(update(workflow_tasks).where(workflow_tasks.c.id == task.id).values(state="cancelled"))
        if task.outbox_key:
            queue.cancel(conn, task.outbox_key, reason)
        service.add_comment(
            conn, task.ticket_id, _note(f"Cancelled: {reason}."), actor=actor, now=now, from_requester=False
        )
        service.change_status(conn, task.ticket_id, "cancelled", actor=actor, now=now)
    service.add_comment(conn, wf.ticket_id, _note(f"Cancelled: {reason}."), actor=actor, now=now, from_requester=False)
    service.change_status(conn, wf.ticket_id, "cancelled", actor=actor, now=now)
