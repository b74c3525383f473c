"""Moving workflows forward: a task whose dependencies are done starts (automated steps are
queued in the outbox for their time), a finished automated step closes its task, a failed one
leaves it open with the error, and the parent closes once every task is done."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from hub import clock
from hub.outbox import dispatcher
from hub.outbox.queue import enqueue
from hub.store.tables import workflow_tasks, workflows
from hub.tickets import rows, service
from hub.tickets.service import FINAL_STATUSES, Actor

ACTOR = Actor("workflow")
FINISHED = ("done", "cancelled")


def install() -> None:
    """Register the listeners once per process."""
    if on_change not in service.listeners:
        service.listeners.append(on_change)
    if on_outcome not in dispatcher.outcome_listeners:
        dispatcher.outcome_listeners.append(on_outcome)


def advance(conn: Connection, workflow_id: int, now: datetime) -> None:
    """Start every waiting task whose dependencies are finished; close the workflow when all are."""
    wf = conn.execute(select(workflows).where(workflows.c.id == workflow_id)).first()
    if wf is None or wf.state != "open":
        return
    tasks = conn.execute(select(workflow_tasks).where(workflow_tasks.c.workflow_id == workflow_id)).all()
    finished = {t.key for t in tasks if t.state in FINISHED}
    for task in tasks:
        if task.state == "waiting" and all(d in finished for d in task.depends_on):
            _start(conn, wf, task, now)
    if all(t.state in FINISHED for t in tasks):
        conn.execute(update(workflows).where(workflows.c.id == workflow_id).values(state="done", updated_at=now))
        service.change_status(conn, wf.ticket_id, "closed", actor=ACTOR, now=now, note=None)


def _start(conn: Connection, wf: Any, task: Any, now: datetime) -> None:
    if not task.run:
        conn.execute(update(workflow_tasks).where(workflow_tasks.c.id == task.id).values(state="manual"))
        return
    key = f"workflow:{wf.id}:{task.key}"
    at = max(now, wf.effective_at + timedelta(seconds=task.offset_seconds or 0))
    enqueue(
        conn,
        instance=task.run["instance"],
        action=task.run["action"],
        payload=task.run["params"],
        idempotency_key=key,
        ticket_id=task.ticket_id,
        not_before=at,
    )
    conn.execute(update(workflow_tasks).where(workflow_tasks.c.id == task.id).values(state="scheduled", outbox_key=key))
    when = "now" if at <= now else f"at {clock.isoformat(at)}"
    body = f"Automated step {task.run['instance']}.{task.run['action']} scheduled {when}."
    service.add_comment(conn, task.ticket_id, _note(body), actor=ACTOR, now=now, from_requester=False)


def _note(body: str) -> dict[str, Any]:
    return {"body": body, "public": False, "author": {"name": "workflow"}}


_TASK_OF_TICKET = select(workflow_tasks).where(workflow_tasks.c.ticket_id == bindparam("ticket_id"))


def on_change(conn: Connection, change: service.Change, now: datetime) -> None:
    """A task ticket reaching a final status (by hand or by its automated step) finishes the task."""
    status = change.fields.get("status")
    if status is None or status[1] not in FINAL_STATUSES:
        return
    row = rows.load(conn, change.ticket_id)  # the worker's batch has it cached
    if row is None or row.parent_id is None:  # a task ticket always has its workflow's parent
        return
    task = conn.execute(_TASK_OF_TICKET, {"ticket_id": change.ticket_id}).first()
    if task is None or task.state in FINISHED:
        return
    state = "cancelled" if status[1] == "cancelled" else "done"
    conn.execute(update(workflow_tasks).where(workflow_tasks.c.id == task.id).values(state=state))
    advance(conn, task.workflow_id, now)


def on_outcome(
    conn: Connection, row: Any, state: str, result: dict[str, Any] | None, error: str | None, now: datetime
) -> None:
    """The outbox finished (or gave up on) an automated step."""
    task = conn.execute(select(workflow_tasks).where(workflow_tasks.c.outbox_key == row.idempotency_key)).first()
    if task is None or task.state in FINISHED:
        return
    if state == "done":
        summary = (result or {}).get("summary") or "done"
        service.add_comment(
            conn, task.ticket_id, _note(f"Done automatically: {summary}"), actor=ACTOR, now=now, from_requester=False
        )
        service.change_status(conn, task.ticket_id, "closed", actor=ACTOR, now=now)
        return
    conn.execute(update(workflow_tasks).where(workflow_tasks.c.id == task.id).values(state="failed"))
    body = (
        f"Automated step {row.instance}.{row.action} failed: {error}\n"
        f"Fix the cause, then retry it (`hub outbox retry {row.id}`), or do the step by hand and close this task."
    )
    service.add_comment(conn, task.ticket_id, _note(body), actor=ACTOR, now=now, from_requester=False)
    ticket_tags = conn.execute(select(service.tickets.c.tags).where(service.tickets.c.id == task.ticket_id)).scalar()
    service.update_fields(
        conn, task.ticket_id, {"tags": [*(ticket_tags or []), "automation-failed"]}, actor=ACTOR, now=now
    )
