"""SCIM 2.0 HR intake. The service provider itself is core (`/scim/v2`, hub/web/scim): it stores
every change of a User as a raw record {operation, id, at, before, after} in this instance's inbox.
This connector only turns such a record into person events:

- a user becoming active (created active, or active false -> true) is a joiner;
- an active user deactivated (PATCH active=false, as Entra ID deprovisions) or deleted is a leaver;
- an active user whose department, manager, title, location or cost center changed is a mover.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hub import jsonutil
from hub.sdk import InboundRequest, PushConnector, RawEvent, SkipRecord, VerificationError
from hub.web.scim.schema import ENTERPRISE, USER

MOVER_FIELDS = ("department", "job_title", "manager_employee_id", "location", "cost_center")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["token"],
    "properties": {
        "token": {
            "type": "string",
            "minLength": 16,
            "description": "Bearer token the HR system or identity platform sends to /scim/v2 (use ${ENV_VAR}).",
        },
        "employee_id": {
            "enum": ["employeeNumber", "externalId", "userName"],
            "description": "Attribute naming the person (default employeeNumber, then externalId, then userName).",
        },
    },
}


def _get(doc: dict[str, Any], *path: str) -> Any:
    node: Any = doc
    for part in path:
        if not isinstance(node, dict):
            return None
        node = next((v for k, v in node.items() if k.lower() == part.lower()), None)
    return node


def _email(doc: dict[str, Any]) -> str | None:
    emails = [e for e in _get(doc, "emails") or [] if isinstance(e, dict) and e.get("value")]
    primary = next((e for e in emails if e.get("primary")), None) or next(
        (e for e in emails if e.get("type") == "work"), None
    )
    chosen = primary or (emails[0] if emails else None)
    if chosen:
        return str(chosen["value"])
    user_name = str(_get(doc, "userName") or "")
    return user_name if "@" in user_name else None


def person(doc: dict[str, Any], id_source: str | None = None) -> dict[str, Any]:
    """The canonical person of a SCIM User document."""
    ext = _get(doc, ENTERPRISE) or {}
    sources = {
        "employeeNumber": _get(ext, "employeeNumber"),
        "externalId": _get(doc, "externalId"),
        "userName": _get(doc, "userName"),
    }
    order = [id_source] if id_source else ["employeeNumber", "externalId", "userName"]
    employee_id = next((str(sources[s]) for s in order if sources.get(s)), None)
    if not employee_id:
        raise SkipRecord("the SCIM user has no employeeNumber, externalId or userName")
    given, family = _get(doc, "name", "givenName"), _get(doc, "name", "familyName")
    name = _get(doc, "name", "formatted") or _get(doc, "displayName") or " ".join(filter(None, [given, family]))
    addresses = [a for a in _get(doc, "addresses") or [] if isinstance(a, dict)]
    address = next((a for a in addresses if a.get("primary")), addresses[0] if addresses else {})
    manager = _get(ext, "manager")
    return {
        "employee_id": employee_id,
        "name": name or None,
        "given_name": given,
        "family_name": family,
        "email": _email(doc),
        "department": _get(ext, "department"),
        "job_title": _get(doc, "title"),
        "manager_employee_id": (_get(manager, "value") if isinstance(manager, dict) else manager) or None,
        "location": address.get("locality") or address.get("formatted"),
        "cost_center": _get(ext, "costCenter"),
    }


def _active(doc: dict[str, Any] | None) -> bool:
    if doc is None:
        return False
    value = _get(doc, "active")
    return True if value is None else bool(value)


class ScimConnector(PushConnector):
    """Pushed through /scim/v2 only; /hooks/<instance> accepts nothing for it."""

    name = "scim"
    channel = "hr"
    config_schema: ClassVar[dict[str, Any]] = SCHEMA
    content_types: ClassVar[tuple[str, ...]] = ()

    def verify(self, request: InboundRequest) -> None:
        raise VerificationError("SCIM instances take requests at /scim/v2, not /hooks")

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        record = jsonutil.loads(raw.body)
        before, after, at = record.get("before"), record.get("after"), record["at"]
        id_source = self.settings.get("employee_id")
        was, now_active = _active(before), _active(after)
        if now_active and not was:
            return [self._event("person.joiner", person(after, id_source), at)]
        if was and not now_active:
            return [self._event("person.leaver", person(after or before, id_source), at)]
        if was and now_active:
            old, new = person(before, id_source), person(after, id_source)
            changes = {f: {"old": old[f], "new": new[f]} for f in MOVER_FIELDS if old[f] != new[f]}
            if changes:
                return [self._event("person.mover", new, at, changes)]
        return []

    def _event(self, kind: str, who: dict[str, Any], at: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"person": who, "effective_at": at}
        if changes:
            data["changes"] = changes
        return {"type": kind, "external_id": who["employee_id"], "occurred_at": at, "data": data}

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        user = {
            "schemas": [USER, ENTERPRISE],
            "userName": "sam.doe@contoso.gov",
            "active": True,
            "name": {"givenName": "Sam", "familyName": "Doe"},
            ENTERPRISE: {"employeeNumber": "E100", "department": "Finance"},
        }
        record = {"operation": "create", "id": "7d1c", "at": "2026-11-27T15:00:00Z", "before": None, "after": user}
        settings = {"settings": {"token": "example-token-0123456789"}}
        return [(settings, [RawEvent("scim:User:7d1c:v1", jsonutil.dumpb(record))])]
