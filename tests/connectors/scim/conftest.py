"""A hub with two SCIM instances, driven through the real Flask app as an identity platform would."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.runtime import Hub

TOKEN = "scim-test-token-0123456789"
OTHER = "other-scim-token-0123456789"
SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

CONFIG = """
hub: {data_dir: {data_dir}}
instances:
  - id: hr
    connector: scim
    settings: {token: "${SCIM_TEST_TOKEN}"}
  - id: hr2
    connector: scim
    settings: {token: other-scim-token-0123456789}
"""


def user(name: str = "sam.doe@contoso.gov", **extra: Any) -> dict[str, Any]:
    """A User as Entra ID provisions it (attribute mapping defaults plus the enterprise extension)."""
    doc = {
        "schemas": [USER, ENTERPRISE],
        "externalId": name.split("@")[0],
        "userName": name,
        "active": True,
        "displayName": "Sam Doe",
        "title": "Accountant",
        "emails": [{"primary": True, "type": "work", "value": name}],
        "name": {"formatted": "Sam Doe", "familyName": "Doe", "givenName": "Sam"},
        "addresses": [{"type": "work", "locality": "Springfield", "primary": True}],
        ENTERPRISE: {"employeeNumber": "E100", "department": "Finance", "costCenter": "CC-10"},
    }
    doc.update(extra)
    return doc


@dataclass
class Scim:
    client: FlaskClient
    hub: Hub
    token: str = TOKEN

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, **headers: str) -> Any:
        hdrs = {"Authorization": f"Bearer {token or self.token}", **headers}
        data = None
        if body is not None:
            data = json.dumps(body)
            hdrs.setdefault("Content-Type", SCIM)
        return self.client.open(f"/scim/v2{path}", method=method, data=data, headers=hdrs)

    def create(self, doc: dict[str, Any], kind: str = "Users") -> dict[str, Any]:
        response = self.call("POST", f"/{kind}", doc)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def patch(self, path: str, *ops: dict[str, Any], **headers: str) -> Any:
        return self.call("PATCH", path, {"schemas": [PATCH], "Operations": list(ops)}, **headers)

    def find(self, query: str, **params: str) -> dict[str, Any]:
        response = self.client.get(
            "/scim/v2/Users",
            query_string={"filter": query, **params} if query else params,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def scim(make_hub: Callable[..., Hub], monkeypatch: pytest.MonkeyPatch) -> Scim:
    monkeypatch.setenv("SCIM_TEST_TOKEN", TOKEN)
    hub = make_hub(CONFIG)
    app = create_app(hub=hub)
    return Scim(app.test_client(), hub)
