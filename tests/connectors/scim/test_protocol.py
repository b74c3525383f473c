"""SCIM 2.0 conformance as an identity platform (Entra ID) exercises it: discovery, auth, create
with the uniqueness probe, get, replace, PATCH (incl. Entra's quirks), delete, filters, paging,
sorting, ETags, groups and error documents."""

from __future__ import annotations

import pytest

from tests.connectors.scim.conftest import ENTERPRISE, ERROR, GROUP, OTHER, SCIM, USER, user


def assert_error(response, status, scim_type=None):
    assert response.status_code == status
    assert response.mimetype == SCIM
    doc = response.get_json()
    assert doc["schemas"] == [ERROR] and doc["status"] == str(status)
    assert doc.get("scimType") == scim_type
    return doc


def test_discovery_documents(scim):
    config = scim.call("GET", "/ServiceProviderConfig")
    assert config.mimetype == SCIM
    doc = config.get_json()
    assert doc["patch"]["supported"] and doc["filter"]["supported"] and doc["etag"]["supported"]
    assert doc["bulk"]["supported"] is False and doc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = scim.call("GET", "/ResourceTypes").get_json()
    assert {t["id"]: t["endpoint"] for t in types["Resources"]} == {"User": "/Users", "Group": "/Groups"}
    assert scim.call("GET", "/ResourceTypes/User").get_json()["schemaExtensions"][0]["schema"] == ENTERPRISE
    schemas = scim.call("GET", "/Schemas").get_json()
    assert {s["id"] for s in schemas["Resources"]} == {USER, GROUP, ENTERPRISE}
    enterprise = scim.call("GET", f"/Schemas/{ENTERPRISE}").get_json()
    assert {"employeeNumber", "department", "manager", "costCenter"} <= {a["name"] for a in enterprise["attributes"]}
    assert_error(scim.call("GET", "/Schemas/urn:nope"), 404)
    assert_error(scim.call("GET", "/Bulk"), 404)


def test_bearer_token_is_required_and_selects_the_instance(scim):
    assert_error(scim.client.get("/scim/v2/Users"), 401)
    wrong = scim.call("GET", "/Users", token="not-the-token-at-all")
    assert_error(wrong, 401)
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    created = scim.create(user())
    assert scim.call("GET", f"/Users/{created['id']}", token=OTHER).status_code == 404
    assert scim.call("GET", "/Users", token=OTHER).get_json()["totalResults"] == 0


def test_entra_create_flow_probe_create_conflict(scim):
    probe = scim.find('userName eq "sam.doe@contoso.gov"')
    assert probe["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert probe["totalResults"] == 0 and probe["Resources"] == []
    response = scim.call("POST", "/Users", user())
    assert response.status_code == 201 and response.mimetype == SCIM
    doc = response.get_json()
    assert response.headers["Location"] == doc["meta"]["location"] and doc["meta"]["location"].endswith(doc["id"])
    assert response.headers["ETag"] == doc["meta"]["version"] == 'W/"1"'
    assert doc["meta"]["resourceType"] == "User" and doc[ENTERPRISE]["employeeNumber"] == "E100"
    assert scim.find('userName eq "SAM.DOE@contoso.gov"')["totalResults"] == 1  # caseExact false
    duplicate = scim.call("POST", "/Users", user("Sam.Doe@Contoso.gov"))
    assert_error(duplicate, 409, "uniqueness")


def test_create_refuses_bad_documents(scim):
    assert_error(scim.call("POST", "/Users", {"userName": "x"}), 400, "invalidSyntax")  # no schemas
    assert_error(scim.call("POST", "/Users", {"schemas": [USER]}), 400, "invalidValue")
    assert_error(scim.call("POST", "/Users", user(active="maybe")), 400, "invalidValue")
    bad_json = scim.client.post(
        "/scim/v2/Users", data="{", headers={"Authorization": f"Bearer {scim.token}", "Content-Type": SCIM}
    )
    assert_error(bad_json, 400, "invalidSyntax")
    text = scim.client.post(
        "/scim/v2/Users", data="x", headers={"Authorization": f"Bearer {scim.token}", "Content-Type": "text/plain"}
    )
    assert_error(text, 415)


def test_get_replace_and_etags(scim):
    created = scim.create(user())
    path = f"/Users/{created['id']}"
    got = scim.call("GET", path)
    assert got.status_code == 200 and got.get_json()["userName"] == "sam.doe@contoso.gov"
    assert scim.call("GET", path, **{"If-None-Match": 'W/"1"'}).status_code == 304
    assert_error(scim.call("GET", "/Users/00000000-0000-0000-0000-000000000000"), 404)

    replaced = scim.call("PUT", path, user(title="Senior Accountant"), **{"If-Match": 'W/"1"'})
    assert replaced.status_code == 200 and replaced.get_json()["title"] == "Senior Accountant"
    assert replaced.headers["ETag"] == 'W/"2"'
    stale = scim.call("PUT", path, user(title="Clerk"), **{"If-Match": 'W/"1"'})
    assert_error(stale, 412)
    assert scim.call("GET", path).get_json()["title"] == "Senior Accountant"
    assert scim.call("PUT", path, user(title="Clerk"), **{"If-Match": "*"}).status_code == 200
    other = scim.create(user("kim@contoso.gov"))
    assert_error(scim.call("PUT", f"/Users/{other['id']}", user()), 409, "uniqueness")


def test_patch_as_entra_id_sends_it(scim):
    boss = scim.create(user("pat@contoso.gov", **{ENTERPRISE: {"employeeNumber": "E1"}}))
    created = scim.create(user())
    path = f"/Users/{created['id']}"
    response = scim.patch(
        path,
        {"op": "Replace", "path": "title", "value": "Controller"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "sam@contoso.gov"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Treasury"},
        {"op": "Add", "value": {"nickName": "Sammy", "name.givenName": "Samuel"}},
    )
    assert response.status_code == 200, response.get_json()
    doc = response.get_json()
    assert doc["title"] == "Controller" and doc["nickName"] == "Sammy" and doc["name"]["givenName"] == "Samuel"
    assert doc[ENTERPRISE]["manager"] == {"value": boss["id"]} and doc[ENTERPRISE]["department"] == "Treasury"
    assert doc["emails"] == [{"primary": True, "type": "work", "value": "sam@contoso.gov"}]
    assert response.headers["ETag"] == 'W/"2"'

    added = scim.patch(path, {"op": "add", "path": "emails", "value": [{"type": "home", "value": "sam@home.example"}]})
    assert len(added.get_json()["emails"]) == 2
    removed = scim.patch(path, {"op": "remove", "path": 'emails[type eq "home"]'})
    assert [e["type"] for e in removed.get_json()["emails"]] == ["work"]
    gone = scim.patch(path, {"op": "remove", "path": "nickName"})
    assert "nickName" not in gone.get_json()

    off = scim.patch(path, {"op": "Replace", "path": "active", "value": "False"})
    assert off.get_json()["active"] is False


def test_patch_is_atomic_and_reports_errors(scim):
    created = scim.create(user())
    path = f"/Users/{created['id']}"
    failed = scim.patch(
        path,
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "remove"},
    )
    assert_error(failed, 400, "noTarget")
    after = scim.call("GET", path)
    assert after.get_json()["title"] == "Accountant" and after.headers["ETag"] == 'W/"1"'
    assert_error(scim.patch(path, {"op": "move", "path": "title", "value": 1}), 400, "invalidSyntax")
    assert_error(scim.patch(path, {"op": "replace", "path": 'emails[type eq "work"', "value": 1}), 400, "invalidPath")
    assert_error(scim.patch(path, {"op": "replace", "path": "id", "value": "x"}), 400, "mutability")
    assert_error(scim.patch(path, {"op": "replace", "path": 'emails[value sw "x"]', "value": {}}), 400, "noTarget")
    assert_error(scim.call("PATCH", path, {"Operations": []}), 400, "invalidSyntax")
    assert_error(scim.patch(path, {"op": "replace", "path": "title", "value": "X"}, **{"If-Match": 'W/"9"'}), 412)


def test_delete(scim):
    created = scim.create(user())
    path = f"/Users/{created['id']}"
    assert_error(scim.call("DELETE", path, **{"If-Match": 'W/"7"'}), 412)
    assert scim.call("DELETE", path).status_code == 204
    assert_error(scim.call("GET", path), 404)
    assert_error(scim.call("DELETE", path), 404)


@pytest.fixture
def people(scim):
    scim.create(user("ann@contoso.gov", title="Clerk", **{ENTERPRISE: {"employeeNumber": "E1", "department": "Parks"}}))
    scim.create(user("bob@contoso.gov", title="Engineer", active=False, **{ENTERPRISE: {"employeeNumber": "E2"}}))
    scim.create(
        user(
            "cy@city.example.gov",
            title="Engineer",
            emails=[{"type": "home", "value": "cy@home.example"}],
            **{ENTERPRISE: {"employeeNumber": "E3", "department": "Water"}},
        )
    )
    return scim


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('userName eq "ann@contoso.gov"', ["ann"]),
        ('userName ne "ann@contoso.gov"', ["bob", "cy"]),
        ('userName co "contoso"', ["ann", "bob"]),
        ('userName sw "B"', ["bob"]),
        ('userName ew ".example.gov"', ["cy"]),
        (f"{ENTERPRISE}:department pr", ["ann", "cy"]),
        (f'{ENTERPRISE}:employeeNumber gt "E1"', ["bob", "cy"]),
        (f'{ENTERPRISE}:employeeNumber ge "E2"', ["bob", "cy"]),
        (f'{ENTERPRISE}:employeeNumber lt "E2"', ["ann"]),
        (f'{ENTERPRISE}:employeeNumber le "E2"', ["ann", "bob"]),
        ("active eq false", ["bob"]),
        ('title eq "Engineer" and active eq true', ["cy"]),
        ('title eq "Clerk" or userName sw "bob"', ["ann", "bob"]),
        ('not (title eq "Engineer")', ["ann"]),
        ('title eq "Engineer" and (active eq false or userName ew "gov")', ["bob", "cy"]),
        ('emails[type eq "home" and value co "cy"]', ["cy"]),
        ('emails[type eq "work"] and not (userName sw "a")', ["bob"]),
        ('name.givenName eq "Sam"', ["ann", "bob", "cy"]),
        ('meta.created gt "2000-01-01T00:00:00Z"', ["ann", "bob", "cy"]),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann@contoso.gov"', ["ann"]),
        ('emails.value ew "home.example"', ["cy"]),
    ],
)
def test_filters(people, query, expected):
    found = people.find(query)
    assert sorted(r["userName"].split("@")[0] for r in found["Resources"]) == expected
    assert found["totalResults"] == len(expected)


@pytest.mark.parametrize(
    "query",
    ['userName xx "a"', 'userName eq "a" and', '(userName eq "a"', "userName eq unquoted", 'not userName eq "a"'],
)
def test_bad_filters_are_invalid_filter(scim, query):
    response = scim.client.get(
        "/scim/v2/Users", query_string={"filter": query}, headers={"Authorization": f"Bearer {scim.token}"}
    )
    assert_error(response, 400, "invalidFilter")


def test_paging_and_sorting(people):
    page = people.find("", startIndex="2", count="1", sortBy="userName")
    assert page["totalResults"] == 3 and page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert [r["userName"] for r in page["Resources"]] == ["bob@contoso.gov"]
    desc = people.find("", sortBy="userName", sortOrder="descending")
    assert [r["userName"][0] for r in desc["Resources"]] == ["c", "b", "a"]
    by_department = people.find("", sortBy=f"{ENTERPRISE}:department")
    assert [r["userName"][0] for r in by_department["Resources"]] == ["a", "c", "b"]  # missing last
    assert people.find("", count="0")["Resources"] == []
    only = people.find('userName eq "ann@contoso.gov"', attributes="userName")
    assert set(only["Resources"][0]) == {"id", "schemas", "meta", "userName"}


def test_groups_and_membership(scim):
    sam = scim.create(user())
    group = scim.create({"schemas": [GROUP], "displayName": "Finance"}, "Groups")
    assert_error(scim.call("POST", "/Groups", {"schemas": [GROUP], "displayName": "finance"}), 409, "uniqueness")
    path = f"/Groups/{group['id']}"
    added = scim.patch(path, {"op": "Add", "path": "members", "value": [{"value": sam["id"]}]})
    assert added.get_json()["members"] == [{"value": sam["id"]}]
    assert scim.call("GET", f"/Users/{sam['id']}").get_json()["groups"][0]["value"] == group["id"]
    lean = scim.call("GET", f"{path}?excludedAttributes=members").get_json()
    assert "members" not in lean and lean["displayName"] == "Finance"
    listed = scim.client.get(
        "/scim/v2/Groups",
        query_string={"filter": 'displayName eq "Finance"'},
        headers={"Authorization": f"Bearer {scim.token}"},
    ).get_json()
    assert listed["totalResults"] == 1
    removed = scim.patch(path, {"op": "Remove", "path": f'members[value eq "{sam["id"]}"]'})
    assert "members" not in removed.get_json()
    assert scim.call("DELETE", path).status_code == 204
