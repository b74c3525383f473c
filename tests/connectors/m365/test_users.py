"""Entra ID onboarding and offboarding against a stateful fake directory: every step runs twice
and the second run writes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from connectors.m365.examples import MAILBOX
from hub import clock
from hub.sdk import FatalError
from tests.connectors.m365.conftest import GRAPH

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
FINANCE, VPN = "02bd9fd6-8f93-4758-87c3-1fb73740a315", "6b4a3c1e-8f3b-4c38-9d41-6f1b2d9e7a15"
NOT_FOUND = {"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist."}}


class Directory:
    """Users, managers, groups and licenses, answering like Graph's user/group APIs."""

    def __init__(self, fake) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.manager: dict[str, str] = {}
        self.groups: dict[str, set[str]] = {FINANCE: set(), VPN: set()}
        self.mails: list[dict[str, Any]] = []
        self.add_user("boss-id", "pat.lee@contoso.gov", mail="pat.lee@contoso.gov")
        u = "users/([^/]+)"
        fake.on("GET", u, self.get)
        fake.on("POST", "users", self.create)
        fake.on("PATCH", u, self.patch)
        fake.on("GET", f"{u}/manager", self.get_manager)
        fake.on("PUT", f"{u}/manager/\\$ref", self.put_manager)
        fake.on("GET", f"{u}/memberOf", self.member_of)
        fake.on("POST", "groups/([^/]+)/members/\\$ref", self.add_member)
        fake.on("DELETE", "groups/([^/]+)/members/([^/]+)/\\$ref", self.remove_member)
        fake.on("POST", f"{u}/assignLicense", self.assign)
        fake.on("POST", f"{u}/revokeSignInSessions", self.revoke)
        fake.on("POST", f"{u}/sendMail", lambda call, m: self.mails.append(call.body) or (202, None, {}))
        skus = [{"skuId": E3, "skuPartNumber": "SPE_E3"}, {"skuId": VISIO, "skuPartNumber": "VISIOCLIENT"}]
        fake.on("GET", "subscribedSkus", (200, {"value": skus}, {}))

    def add_user(self, uid: str, upn: str, **fields: Any) -> dict[str, Any]:
        user = {
            "id": uid,
            "userPrincipalName": upn,
            "displayName": upn.split("@")[0],
            "accountEnabled": True,
            "assignedLicenses": [],
            "usageLocation": None,
            "department": None,
            "signInSessionsValidFromDateTime": "2026-01-01T00:00:00Z",
            **fields,
        }
        self.users[uid] = user
        return user

    def find(self, key: str) -> dict[str, Any] | None:
        return self.users.get(key) or next((u for u in self.users.values() if u["userPrincipalName"] == key), None)

    def get(self, call, match):
        user = self.find(match.group(1))
        if user is None:
            return 404, NOT_FOUND, {}
        wanted = call.query.get("$select", "").split(",")
        return 200, {k: v for k, v in user.items() if not wanted[0] or k in wanted or k == "id"}, {}

    def create(self, call, _match):
        body = call.body
        assert body["passwordProfile"]["forceChangePasswordNextSignIn"] is True
        fields = {k: v for k, v in body.items() if k != "passwordProfile"}
        upn = fields.pop("userPrincipalName")
        user = self.add_user(f"id-{len(self.users)}", upn, **fields)
        self.password = body["passwordProfile"]["password"]
        return 201, {"@odata.context": f"{GRAPH}/$metadata#users/$entity", **user}, {}

    def patch(self, call, match):
        self.find(match.group(1)).update(call.body)
        return 204, None, {}

    def get_manager(self, call, match):
        boss = self.manager.get(self.find(match.group(1))["id"])
        return (
            (200, {"id": boss, "userPrincipalName": self.users[boss]["userPrincipalName"]}, {})
            if boss
            else (
                404,
                NOT_FOUND,
                {},
            )
        )

    def put_manager(self, call, match):
        self.manager[self.find(match.group(1))["id"]] = call.body["@odata.id"].rsplit("/", 1)[1]
        return 204, None, {}

    def member_of(self, call, match):
        uid = self.find(match.group(1))["id"]
        value = [
            {"@odata.type": "#microsoft.graph.group", "id": g} for g, members in self.groups.items() if uid in members
        ]
        return 200, {"value": value}, {}

    def add_member(self, call, match):
        uid = call.body["@odata.id"].rsplit("/", 1)[1]
        if uid in self.groups[match.group(1)]:
            message = (
                "One or more added object references already exist for the following modified properties: 'members'."
            )
            return 400, {"error": {"code": "Request_BadRequest", "message": message}}, {}
        self.groups[match.group(1)].add(uid)
        return 204, None, {}

    def remove_member(self, call, match):
        members = self.groups[match.group(1)]
        if match.group(2) not in members:
            return 404, NOT_FOUND, {}
        members.remove(match.group(2))
        return 204, None, {}

    def assign(self, call, match):
        user = self.find(match.group(1))
        if call.body["addLicenses"] and not user.get("usageLocation"):
            message = "License assignment cannot be done for user with invalid usage location."
            return 400, {"error": {"code": "Request_BadRequest", "message": message}}, {}
        have = [x for x in user["assignedLicenses"] if x["skuId"] not in call.body["removeLicenses"]]
        user["assignedLicenses"] = have + [{"disabledPlans": [], "skuId": x["skuId"]} for x in call.body["addLicenses"]]
        return 200, user, {}

    def revoke(self, call, match):
        self.find(match.group(1))["signInSessionsValidFromDateTime"] = clock.isoformat(clock.now())
        return 200, {"@odata.context": f"{GRAPH}/$metadata#Edm.Boolean", "value": True}, {}


USERS = {"password_delivery": {"to_manager": True, "address": "it-desk@contoso.gov"}, "usage_location": "US"}
NEW = "jordan.rivera@contoso.gov"


def twice(fake, connector, name: str, payload: dict[str, Any]):
    """Run a step, then run it again: the second run must write nothing and say so."""
    first = connector.run_action(name, payload, f"{name}:1")
    writes = len(fake.writes())
    second = connector.run_action(name, payload, f"{name}:1")
    assert len(fake.writes()) == writes, f"re-running {name} changed something"
    assert second.data.get("changed") is False
    return first


def test_onboarding_then_offboarding_each_step_idempotent(fake, make_connector, fake_clock):
    directory = Directory(fake)
    connector = make_connector(users=USERS)
    created = twice(
        fake,
        connector,
        "create_user",
        {
            "user_principal_name": NEW,
            "display_name": "Jordan Rivera",
            "given_name": "Jordan",
            "surname": "Rivera",
            "employee_id": "E1234",
            "manager": "pat.lee@contoso.gov",
        },
    )
    user = directory.find(NEW)
    assert user["employeeId"] == "E1234" and user["mailNickname"] == "jordan.rivera"
    (sent,) = directory.mails
    assert sent["message"]["toRecipients"] == [{"emailAddress": {"address": "pat.lee@contoso.gov"}}]
    assert sent["saveToSentItems"] is False and directory.password in sent["message"]["body"]["content"]
    assert directory.password not in repr(created) and created.data["password_sent_to"] == "pat.lee@contoso.gov"
    assert fake.made("POST", f"users/{MAILBOX}/sendMail")  # from the service mailbox

    twice(fake, connector, "set_manager", {"user": NEW, "manager": "pat.lee@contoso.gov"})
    assert directory.manager[user["id"]] == "boss-id"
    twice(fake, connector, "set_department", {"user": NEW, "department": "Finance"})
    assert user["department"] == "Finance"
    result = twice(fake, connector, "add_to_groups", {"user": NEW, "groups": [FINANCE, VPN]})
    assert result.data["added"] == [FINANCE, VPN] and all(user["id"] in m for m in directory.groups.values())
    twice(fake, connector, "assign_licenses", {"user": NEW, "skus": ["SPE_E3", VISIO]})
    assert {x["skuId"] for x in user["assignedLicenses"]} == {E3, VISIO} and user["usageLocation"] == "US"
    state = connector.run_action("get_user", {"user": NEW}, "get:1").data["user"]
    assert state["manager"] == "pat.lee@contoso.gov" and state["groups"] == sorted([FINANCE, VPN])

    # offboarding
    fake_clock.advance(days=200)
    requested = clock.isoformat(clock.now())
    twice(fake, connector, "disable_user", {"user": NEW})
    assert user["accountEnabled"] is False
    twice(fake, connector, "revoke_sessions", {"user": NEW, "requested_at": requested})
    assert user["signInSessionsValidFromDateTime"] == requested
    twice(fake, connector, "remove_from_groups", {"user": NEW, "groups": ["*"]})
    assert not any(user["id"] in m for m in directory.groups.values())
    twice(fake, connector, "remove_licenses", {"user": NEW, "skus": [E3, VISIO]})
    assert user["assignedLicenses"] == []
    state = connector.run_action("get_user", {"user": NEW}, "get:2")
    assert state.summary == f"{NEW}: disabled"


def test_password_goes_only_to_the_configured_channel(fake, make_connector):
    directory = Directory(fake)
    connector = make_connector(users={"password_delivery": {"address": "it-desk@contoso.gov"}})
    payload = {"user_principal_name": NEW, "display_name": "J R", "deliver_to": "attacker@evil.example"}
    connector.run_action("create_user", payload, "c:1")
    assert [m["message"]["toRecipients"][0]["emailAddress"]["address"] for m in directory.mails] == [
        "it-desk@contoso.gov"
    ]
    lonely = make_connector(users={})
    with pytest.raises(FatalError, match="names no recipient"):
        lonely.run_action("create_user", {"user_principal_name": "x@contoso.gov", "display_name": "X"}, "c:2")
    assert directory.find("x@contoso.gov") is None  # nobody created whose password nobody would get


def test_group_change_without_permission_names_it(fake, make_connector):
    Directory(fake)
    denied = {
        "error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation.",
        }
    }
    fake.on("POST", "groups/([^/]+)/members/\\$ref", (403, denied, {}))
    with pytest.raises(FatalError, match=re.escape("GroupMember.ReadWrite.All or Group.ReadWrite.All")):
        make_connector().run_action("add_to_groups", {"user": "pat.lee@contoso.gov", "groups": [VPN]}, "g:1")


def test_users_delta_for_drift_checks(fake, make_connector, recorder):
    link = f"{GRAPH}/users/delta"
    pages = {
        None: {
            "value": [{"id": "a", "accountEnabled": True, "employeeId": "E1"}],
            "@odata.nextLink": f"{link}?$skiptoken=2",
        },
        "2": {
            "value": [{"id": "b", "accountEnabled": False, "employeeId": "E2"}],
            "@odata.deltaLink": f"{link}?$deltatoken=d1",
        },
        "d1": (400, {"error": {"code": "syncStateNotFound", "message": "The sync state generation is not found."}}),
    }

    def reply(call, _match):
        found = pages[call.query.get("$skiptoken") or call.query.get("$deltatoken")]
        return (found[0], found[1], {}) if isinstance(found, tuple) else (200, found, {})

    fake.on("GET", "users/delta", reply)
    connector = make_connector()
    users, next_link = connector.users_delta()
    assert [(u["employeeId"], u["accountEnabled"]) for u in users] == [("E1", True), ("E2", False)]
    assert next_link.endswith("$deltatoken=d1") and "employeeId" in fake.calls[0].query["$select"]
    again, _ = connector.users_delta(next_link)  # expired: starts over instead of failing
    assert len(again) == 2 and "users delta link" in recorder.expiries
