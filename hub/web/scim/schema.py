"""What this service provider knows of RFC 7643's User and Group: URNs, attribute names (for
case-insensitive paths), multi-valued attributes, sortable attributes, and the discovery
documents (/ServiceProviderConfig, /ResourceTypes, /Schemas)."""

from __future__ import annotations

from typing import Any

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
URNS = (ENTERPRISE, USER, GROUP)

MULTI_VALUED = {
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "members",
}
READ_ONLY = {"id", "meta", "groups"}
SORTABLE = (
    "id",
    "userName",
    "displayName",
    "externalId",
    "name.familyName",
    "name.givenName",
    "meta.created",
    "meta.lastModified",
)


def resolve(text: str) -> tuple[str, ...]:
    """An attribute path as parts: `name.givenName` -> (name, givenName); a full URN path
    `urn:...:enterprise:2.0:User:manager.value` -> (URN, manager, value); the core URN is dropped."""
    text = text.strip()
    if not text:
        raise ValueError("empty attribute path")
    for urn in URNS:
        if text.lower().startswith(urn.lower() + ":"):
            rest = tuple(text[len(urn) + 1 :].split("."))
            return rest if urn in (USER, GROUP) else (urn, *rest)
        if text.lower() == urn.lower():
            return (urn,)
    return tuple(text.split("."))


def _attr(name: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **extra,
    }


def _multi(name: str, sub: list[str]) -> dict[str, Any]:
    subs = [_attr(s) for s in sub] + [_attr("primary", "boolean")]
    return _attr(name, "complex", multiValued=True, subAttributes=subs)


USER_ATTRIBUTES = [
    _attr("userName", required=True, uniqueness="server"),
    _attr("name", "complex", subAttributes=[_attr(s) for s in ("formatted", "familyName", "givenName", "middleName")]),
    _attr("displayName"),
    _attr("title"),
    _attr("userType"),
    _attr("preferredLanguage"),
    _attr("active", "boolean"),
    _multi("emails", ["value", "type", "display"]),
    _multi("phoneNumbers", ["value", "type"]),
    _multi("addresses", ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"]),
    _attr(
        "groups", "complex", multiValued=True, mutability="readOnly", subAttributes=[_attr("value"), _attr("display")]
    ),
]
ENTERPRISE_ATTRIBUTES = [
    _attr("employeeNumber"),
    _attr("costCenter"),
    _attr("organization"),
    _attr("division"),
    _attr("department"),
    _attr("manager", "complex", subAttributes=[_attr("value"), _attr("$ref", "reference"), _attr("displayName")]),
]
GROUP_ATTRIBUTES = [
    _attr("displayName", required=True, uniqueness="server"),
    _attr("members", "complex", multiValued=True, subAttributes=[_attr("value"), _attr("display"), _attr("type")]),
]


def _schema(urn: str, name: str, attributes: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": urn,
        "name": name,
        "description": f"{name} resource",
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
    }


def schemas(base: str) -> list[dict[str, Any]]:
    return [
        _schema(USER, "User", USER_ATTRIBUTES, base),
        _schema(ENTERPRISE, "EnterpriseUser", ENTERPRISE_ATTRIBUTES, base),
        _schema(GROUP, "Group", GROUP_ATTRIBUTES, base),
    ]


def resource_types(base: str) -> list[dict[str, Any]]:
    kinds = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    return [
        {
            "schemas": [kinds],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [kinds],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "schema": GROUP,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def service_provider_config(base: str, max_results: int) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A per-instance token (settings.token of the HR instance) in Authorization: Bearer",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }
