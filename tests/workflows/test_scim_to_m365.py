"""From an identity platform's SCIM calls to Entra ID changes: a provisioned user starts the
onboarding, Entra ID's deprovisioning PATCH (active=false) disables the account through the
offboarding's automated steps, and both workflows close."""

from __future__ import annotations

from hub.app import create_app
from hub.pipeline.worker import drain
from hub.store.db import write
from hub.tickets import service
from tests.connectors.scim.conftest import ENTERPRISE, PATCH, user


def test_scim_joiner_then_deprovisioning_runs_through_m365(desk, fake_clock):
    client = create_app(hub=desk.hub).test_client()
    auth = {"Authorization": "Bearer entra-provisioning-token-0123", "Content-Type": "application/scim+json"}
    created = client.post("/scim/v2/Users", json=user(), headers=auth)
    assert created.status_code == 201
    drain(desk.hub)
    [onboarding] = desk.workflows()
    assert (onboarding.instance, onboarding.kind, onboarding.person["department"]) == ("entra", "joiner", "Finance")
    desk.dispatch()  # effective now: the account step runs at once
    account = desk.directory.find("sam.doe@contoso.gov")
    assert account is not None and account["accountEnabled"] is True

    deprovision = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert client.patch(f"/scim/v2/Users/{created.get_json()['id']}", json=deprovision, headers=auth).status_code == 200
    drain(desk.hub)
    offboarding = desk.workflows()[-1]
    assert offboarding.kind == "leaver"
    desk.dispatch()
    assert account["accountEnabled"] is False
    children = desk.children(offboarding.ticket_id)
    assert children["disable"].status == "closed" and children["sessions"].status == "closed"
    with write(desk.hub.engine) as conn:
        service.change_status(conn, children["badge"].id, "closed", actor=service.Actor("agent"), now=fake_clock())
    assert desk.ticket(offboarding.ticket_id).status == "closed"
    assert ENTERPRISE in created.get_json()["schemas"]
