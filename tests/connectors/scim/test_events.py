"""SCIM writes become person events through the inbox -> worker pipeline: create is a joiner,
PATCH active=false (Entra ID's deprovisioning) and DELETE are leavers, a department change is a
mover. Without workflow templates each event is one ticket."""

from __future__ import annotations

from sqlalchemy import select

from hub.pipeline.worker import drain
from hub.store.db import read
from hub.store.tables import hr_people, inbox, tickets
from tests.connectors.scim.conftest import ENTERPRISE, user


def tickets_of(scim):
    with read(scim.hub.engine) as conn:
        return [(t.type, t.title) for t in conn.execute(select(tickets).order_by(tickets.c.id)).all()]


def person(scim, employee_id):
    with read(scim.hub.engine) as conn:
        return conn.execute(select(hr_people).where(hr_people.c.employee_id == employee_id)).first()


def test_create_is_a_joiner_and_is_in_the_inbox_before_the_answer(scim, fake_clock):
    created = scim.create(user())
    with read(scim.hub.engine) as conn:
        [row] = conn.execute(select(inbox)).all()
    assert (row.instance, row.state, row.dedup_key) == ("hr", "received", f"scim:User:{created['id']}:v1")
    drain(scim.hub)
    assert tickets_of(scim) == [("onboarding", "Onboarding: Sam Doe (2026-11-27)")]
    sam = person(scim, "E100")
    assert sam.active and sam.person["department"] == "Finance" and sam.person["email"] == "sam.doe@contoso.gov"


def test_patch_active_false_is_a_leaver_like_delete(scim, fake_clock):
    sam = scim.create(user())
    kim = scim.create(user("kim@contoso.gov", **{ENTERPRISE: {"employeeNumber": "E200"}}))
    drain(scim.hub)
    scim.patch(f"/Users/{sam['id']}", {"op": "Replace", "path": "active", "value": "False"})
    scim.call("DELETE", f"/Users/{kim['id']}")
    drain(scim.hub)
    kinds = [t[0] for t in tickets_of(scim)]
    assert kinds == ["onboarding", "onboarding", "offboarding", "offboarding"]
    assert not person(scim, "E100").active and not person(scim, "E200").active
    scim.call("DELETE", f"/Users/{sam['id']}")  # already inactive: no second leaver
    drain(scim.hub)
    assert len(tickets_of(scim)) == 4


def test_department_change_is_a_mover_and_noise_is_not(scim, fake_clock):
    sam = scim.create(user())
    drain(scim.hub)
    scim.patch(f"/Users/{sam['id']}", {"op": "replace", "path": "displayName", "value": "Samuel Doe"})
    scim.patch(f"/Users/{sam['id']}", {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Water"})
    drain(scim.hub)
    assert [t[0] for t in tickets_of(scim)] == ["onboarding", "transfer"]
    with read(scim.hub.engine) as conn:
        transfer = conn.execute(select(tickets).where(tickets.c.type == "transfer")).first()
    assert transfer.attributes["changes"] == {"department": {"old": "Finance", "new": "Water"}}
