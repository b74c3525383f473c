"""Whole joiner and leaver runs: HR event -> parent + task tickets -> automated Microsoft 365
steps against the fake Graph at their time -> tasks and parent closed."""

from __future__ import annotations

from hub.store.db import write
from hub.tickets import service
from tests.connectors.m365.test_users import FINANCE
from tests.support.statements import recorded
from tests.workflows.conftest import SAM, at

JOINS = "2026-12-01T14:00:00Z"  # Tuesday; the clock starts Friday 2026-11-27 15:00 UTC


def close_by_hand(desk, ticket_id):
    with write(desk.hub.engine) as conn:
        service.change_status(
            conn, ticket_id, "resolved", actor=service.Actor("agent:kim"), now=at("2026-12-01T09:00Z")
        )


def test_joiner_runs_end_to_end_at_the_right_time(desk, fake_clock):
    desk.hr("joiner", JOINS)
    [wf] = desk.workflows()
    parent = desk.ticket(wf.ticket_id)
    assert (parent.type, parent.queue, parent.status) == ("onboarding", "hr", "new")
    assert parent.title == "Onboarding: Sam Doe (2026-12-01)"
    children = desk.children(parent.id)
    assert {k: (c.type, c.queue) for k, c in children.items()} == {
        "account": ("task", "it"),
        "groups": ("task", "it"),
        "desk": ("task", "facilities"),
    }
    assert children["account"].attributes["due_at"] == "2026-11-30T14:00:00Z"
    [queued] = desk.outbox()
    assert (queued.action, queued.next_attempt_at) == ("create_user", at("2026-11-29T14:00Z"))

    assert desk.dispatch() == 0  # two days before the start: not yet
    assert desk.directory.find("sam.doe@contoso.gov") is None

    fake_clock.advance(days=2)
    desk.dispatch()
    user = desk.directory.find("sam.doe@contoso.gov")
    assert user["employeeId"] == "E100" and user["department"] == "Finance"
    children = desk.children(parent.id)
    assert children["account"].status == "closed" and children["groups"].status == "new"
    groups = [r for r in desk.outbox() if r.action == "add_to_groups"]
    assert [r.next_attempt_at for r in groups] == [at(JOINS)]  # queued once the account exists, runs at the start

    fake_clock.advance(days=2)
    desk.dispatch()
    assert user["id"] in desk.directory.groups[FINANCE]
    assert desk.children(parent.id)["groups"].status == "closed"
    assert desk.ticket(parent.id).status == "new"  # the desk is still to do

    close_by_hand(desk, children["desk"].id)
    assert desk.ticket(parent.id).status == "closed"
    assert desk.workflows()[0].state == "done"


def test_same_hire_twice_makes_one_workflow(desk):
    desk.hr("joiner", JOINS)
    desk.hr("joiner", JOINS)
    assert len(desk.workflows()) == 1
    assert len(desk.outbox()) == 1


def test_failed_step_leaves_its_task_open_with_the_error(desk, fake_clock):
    desk.hr("joiner", "2026-11-27T15:00:00Z", {**SAM, "email": None})
    [wf] = desk.workflows()
    desk.dispatch()
    account = desk.children(wf.ticket_id)["account"]
    assert account.status == "new" and "automation-failed" in account.tags
    assert desk.tasks(wf.id)["account"].state == "failed"
    [row] = [r for r in desk.outbox() if r.action == "create_user"]
    assert row.state == "dead" and "user_principal_name" in row.last_error
    assert desk.tasks(wf.id)["groups"].state == "waiting"  # never before the account exists
    assert desk.ticket(wf.ticket_id).status == "new"


def test_leaver_in_the_future_disables_then_not_before(desk, fake_clock):
    sam = desk.directory.add_user("u-sam", "sam.doe@contoso.gov", employeeId="E100")
    friday_5pm = "2026-11-27T23:00:00Z"  # 17:00 in Chicago
    desk.hr("leaver", friday_5pm)
    [wf] = desk.workflows()
    assert desk.ticket(wf.ticket_id).type == "offboarding"
    assert desk.dispatch() == 0
    assert sam["accountEnabled"] is True

    fake_clock.advance(hours=7, minutes=59)
    assert desk.dispatch() == 0 and sam["accountEnabled"] is True
    fake_clock.advance(minutes=1)
    desk.dispatch()
    assert sam["accountEnabled"] is False
    children = desk.children(wf.ticket_id)
    assert children["disable"].status == "closed" and children["sessions"].status == "closed"
    assert desk.ticket(wf.ticket_id).status == "new"
    close_by_hand(desk, children["badge"].id)
    assert desk.ticket(wf.ticket_id).status == "closed"


def test_changed_termination_date_moves_the_scheduled_steps(desk, fake_clock):
    sam = desk.directory.add_user("u-sam", "sam.doe@contoso.gov", employeeId="E100")
    desk.hr("leaver", "2026-11-27T23:00:00Z")
    desk.hr("leaver", "2026-11-30T23:00:00Z")
    [wf] = desk.workflows()
    assert wf.effective_at == at("2026-11-30T23:00Z")
    [row] = desk.outbox()
    assert row.next_attempt_at == at("2026-11-30T23:00Z")
    fake_clock.advance(hours=9)  # past the old date
    desk.dispatch()
    assert sam["accountEnabled"] is True
    fake_clock.advance(days=3)
    desk.dispatch()
    assert sam["accountEnabled"] is False


def test_rescinded_hire_cancels_open_tasks(desk):
    desk.hr("joiner", JOINS)
    desk.hr("joiner", JOINS, rescinded=True)
    [wf] = desk.workflows()
    assert wf.state == "cancelled"
    assert desk.ticket(wf.ticket_id).status == "cancelled"
    assert {c.status for c in desk.children(wf.ticket_id).values()} == {"cancelled"}
    assert [r.state for r in desk.outbox()] == ["cancelled"]
    assert desk.dispatch() == 0


def test_rehire_after_leaving_starts_a_new_onboarding(desk):
    desk.hr("joiner", JOINS)
    desk.hr("leaver", "2027-03-31T22:00:00Z")
    desk.hr("joiner", "2027-09-01T14:00:00Z")
    kinds = [w.kind for w in desk.workflows()]
    assert kinds == ["joiner", "leaver", "joiner"]
    assert len({w.ticket_id for w in desk.workflows()}) == 3


def test_resolving_a_ticket_outside_any_workflow_does_not_look_for_its_task(desk):
    """Only a workflow's task tickets have a parent; every other ticket skips the task look-up
    (one query less per status change). A task ticket closed by hand still finishes its task (above)."""
    with write(desk.hub.engine) as conn:
        ticket_id = service.create_ticket(
            conn, {"title": "Broken chair"}, instance="hr", connector="memory", channel="api", prefix="REQ",
            actor=service.Actor("agent:kim"), now=at("2026-12-01T09:00Z"),
        )  # fmt: skip
    with recorded(desk.hub.engine, "SELECT workflow_tasks") as lookups:
        close_by_hand(desk, ticket_id)
    assert desk.ticket(ticket_id).status == "resolved"
    assert lookups == []
