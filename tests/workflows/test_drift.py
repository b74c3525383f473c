"""The drift check compares HR (hr_people) with Entra ID users (users delta on the fake Graph)
and opens one ticket per person, not one per run."""

from __future__ import annotations

from hub.store.tables import tickets
from hub.tickets.workflows import drift
from tests.connectors.m365.conftest import GRAPH
from tests.workflows.conftest import SAM


def test_left_in_hr_but_enabled_and_enabled_without_hr_record(desk, fake_clock):
    d = desk.directory
    d.add_user("u-sam", "sam.doe@contoso.gov", employeeId="E100")  # leaves in HR, still enabled
    d.add_user("u-kim", "kim@contoso.gov", employeeId="E200")  # active in HR
    d.add_user("u-ghost", "ghost@contoso.gov", employeeId="E999")  # no HR record at all
    d.add_user("u-svc", "svc-backup@contoso.gov", employeeId="S1")  # ignored by pattern
    d.add_user("u-room", "room-12@contoso.gov")  # no employeeId: not a person
    d.add_user("u-old", "old@contoso.gov", employeeId="E300", accountEnabled=False)
    page = {"value": list(d.users.values()), "@odata.deltaLink": f"{GRAPH}/users/delta?$deltatoken=a"}
    desk.graph.on("GET", "users/delta", lambda call, m: (200, page, {}))
    desk.hr("joiner", "2020-01-01T14:00:00Z", {**SAM, "employee_id": "E200", "email": "kim@contoso.gov"})
    desk.hr("leaver", "2026-11-27T23:00:00Z")  # Friday 17:00 Chicago, later than the clock

    assert drift.check(desk.hub) == 1  # only the ghost: Sam has not left yet
    fake_clock.advance(hours=9)  # past the termination and the hour of grace
    assert {r.state for r in desk.outbox()} == {"pending"}  # nothing dispatched: Sam is still enabled
    assert drift.check(desk.hub) == 1
    assert drift.check(desk.hub) == 0  # once per person, not per run
    alerts = desk.rows(tickets, tickets.c.type == "alert")
    assert sorted(a.title for a in alerts) == [
        "Enabled account without an HR record: ghost@contoso.gov",
        "Left on 2026-11-27 but still enabled: sam.doe@contoso.gov",
    ]
    assert {a.queue for a in alerts} == {"it-security"}
