"""Entra ID user lifecycle for onboarding and offboarding workflows.

Every action reads the current state first and changes only what differs, so re-running a
finished step changes nothing and says so (`data["changed"]`). Results never contain secrets.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import timedelta
from typing import Any

from connectors.m365 import mail
from connectors.m365.graph import GRAPH, GraphClient, GraphError, seg
from connectors.m365.permissions import (
    GROUP_MEMBERS,
    LICENSES,
    SKUS_READ,
    USER_READ,
    USER_REVOKE,
    USER_WRITE,
)
from hub import clock
from hub.sdk import ActionResult, FatalError, SkipRecord

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
USER_FIELDS = "id,displayName,userPrincipalName,mail,accountEnabled,employeeId,department,jobTitle,usageLocation"
CREATE_FIELDS = {
    "given_name": "givenName",
    "surname": "surname",
    "employee_id": "employeeId",
    "department": "department",
    "job_title": "jobTitle",
    "usage_location": "usageLocation",
    "mail_nickname": "mailNickname",
}


def need(payload: dict[str, Any], *names: str) -> list[Any]:
    missing = [n for n in names if not payload.get(n)]
    if missing:
        raise SkipRecord(f"payload lacks {', '.join(missing)}")
    return [payload[n] for n in names]


def get_user(graph: GraphClient, user: str, select: str = USER_FIELDS) -> dict[str, Any] | None:
    response = graph.call("GET", f"users/{seg(user)}", needs=USER_READ, expect=(404,), params={"$select": select})
    return None if response.status_code == 404 else dict(response.json())


def must_get(graph: GraphClient, user: str, select: str = USER_FIELDS) -> dict[str, Any]:
    found = get_user(graph, user, select)
    if found is None:
        raise SkipRecord(f"no user {user} in Entra ID")
    return found


def temporary_password(length: int = 16) -> str:
    """Meets Entra ID's complexity rule (3 of 4 classes); forced to change at first sign-in."""
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "!@#$%^&*-_=+?"]
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice("".join(classes)) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def create_user(graph: GraphClient, settings: dict[str, Any], payload: dict[str, Any]) -> ActionResult:
    upn, name = need(payload, "user_principal_name", "display_name")
    existing = get_user(graph, upn)
    if existing is not None:
        return ActionResult(f"user {upn} already exists; nothing changed", {"changed": False, "id": existing["id"]})
    recipient = password_recipient(graph, settings, payload)  # before creating: never a password nobody gets
    sender = settings.get("users", {}).get("password_sender") or settings.get("mail", {}).get("mailbox")
    if not sender:
        raise FatalError("no mailbox to send temporary passwords from (users.password_sender or mail.mailbox)")
    password = temporary_password()
    body: dict[str, Any] = {
        "accountEnabled": True,
        "displayName": name,
        "userPrincipalName": upn,
        "mailNickname": payload.get("mail_nickname") or re.sub(r"[^A-Za-z0-9._-]", "", upn.split("@")[0]),
        "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": password},
    }
    body.update({graph_name: payload[key] for key, graph_name in CREATE_FIELDS.items() if payload.get(key)})
    created = graph.json("POST", "users", needs=USER_WRITE, json=body)
    text = (
        f"A new account was created: {name} <{upn}>.\n\nTemporary password: {password}\n\n"
        "Hand it to the new colleague in person; they must choose a new password at first sign-in."
    )
    mail.send_mail(graph, sender, recipient, f"New account {upn}", text)
    return ActionResult(
        f"created user {upn}; temporary password sent to {recipient}",
        {"changed": True, "id": created["id"], "password_sent_to": recipient},
    )


def password_recipient(graph: GraphClient, settings: dict[str, Any], payload: dict[str, Any]) -> str:
    """Only the configured channel: the new user's manager (when configured so and given) or the
    configured IT address. Never an address from the payload itself."""
    delivery = settings.get("users", {}).get("password_delivery") or {}
    if delivery.get("to_manager") and payload.get("manager"):
        manager = must_get(graph, payload["manager"], "id,mail,userPrincipalName")
        address = manager.get("mail") or manager.get("userPrincipalName")
        if address:
            return str(address)
    if delivery.get("address"):
        return str(delivery["address"])
    raise FatalError("users.password_delivery names no recipient for temporary passwords (address or to_manager)")


def set_manager(graph: GraphClient, payload: dict[str, Any]) -> ActionResult:
    user, manager = need(payload, "user", "manager")
    target = must_get(graph, manager, "id,userPrincipalName")
    current = graph.call("GET", f"users/{seg(user)}/manager", needs=USER_READ, expect=(404,), params={"$select": "id"})
    if current.status_code != 404 and current.json().get("id") == target["id"]:
        return ActionResult(f"manager of {user} is already {manager}", {"changed": False})
    ref = {"@odata.id": f"{GRAPH}/users/{target['id']}"}
    graph.call("PUT", f"users/{seg(user)}/manager/$ref", needs=USER_WRITE, json=ref)
    return ActionResult(f"manager of {user} set to {manager}", {"changed": True})


def set_fields(graph: GraphClient, user: str, wanted: dict[str, Any], needs: tuple[str, ...]) -> ActionResult:
    current = must_get(graph, user, "id," + ",".join(wanted))
    changes = {k: v for k, v in wanted.items() if current.get(k) != v}
    if not changes:
        return ActionResult(f"{user}: {', '.join(f'{k}={v}' for k, v in wanted.items())} already", {"changed": False})
    graph.call("PATCH", f"users/{seg(current['id'])}", needs=needs, json=changes)
    return ActionResult(f"{user}: set {', '.join(f'{k}={v}' for k, v in changes.items())}", {"changed": True})


def member_of(graph: GraphClient, user_id: str) -> set[str]:
    items = graph.items(f"users/{seg(user_id)}/memberOf", needs=USER_READ, params={"$select": "id"})
    return {str(i["id"]) for i in items}


def add_to_groups(graph: GraphClient, payload: dict[str, Any]) -> ActionResult:
    user, groups = need(payload, "user", "groups")
    user_id = must_get(graph, user, "id")["id"]
    have = member_of(graph, user_id)
    added = []
    for group in [g for g in groups if g not in have]:
        ref = {"@odata.id": f"{GRAPH}/directoryObjects/{user_id}"}
        response = graph.call("POST", f"groups/{seg(group)}/members/$ref", needs=GROUP_MEMBERS, json=ref, expect=(400,))
        if response.status_code == 400 and "already exist" not in response.text:
            raise GraphError(f"adding {user} to group {group}: {response.text[:200]}", 400, "")
        if response.status_code < 300:
            added.append(group)
    summary = f"{user}: added to {len(added)} group(s), already in {len(groups) - len(added)}"
    return ActionResult(summary, {"changed": bool(added), "added": added})


def remove_from_groups(graph: GraphClient, payload: dict[str, Any]) -> ActionResult:
    user, groups = need(payload, "user", "groups")
    user_id = must_get(graph, user, "id")["id"]
    have = member_of(graph, user_id)
    removed = []
    for group in groups if groups != ["*"] else sorted(have):
        if group not in have:
            continue
        path = f"groups/{seg(group)}/members/{seg(user_id)}/$ref"
        if graph.call("DELETE", path, needs=GROUP_MEMBERS, expect=(404,)).status_code != 404:
            removed.append(group)
    return ActionResult(f"{user}: removed from {len(removed)} group(s)", {"changed": bool(removed), "removed": removed})


def sku_ids(graph: GraphClient, skus: list[str]) -> list[str]:
    """SKU ids as given, or resolved from part numbers such as SPE_E3."""
    if all(GUID.match(s) for s in skus):
        return list(skus)
    known = {i["skuPartNumber"].upper(): i["skuId"] for i in graph.items("subscribedSkus", needs=SKUS_READ)}
    unknown = [s for s in skus if not GUID.match(s) and s.upper() not in known]
    if unknown:
        raise SkipRecord(f"the tenant has no license {', '.join(unknown)}")
    return [s if GUID.match(s) else known[s.upper()] for s in skus]


def licenses(graph: GraphClient, settings: dict[str, Any], payload: dict[str, Any], *, add: bool) -> ActionResult:
    user, skus = need(payload, "user", "skus")
    current = must_get(graph, user, "id,assignedLicenses,usageLocation")
    assigned = {str(i["skuId"]) for i in current.get("assignedLicenses") or []}
    wanted = sku_ids(graph, skus)
    todo = [s for s in wanted if (s not in assigned) == add]
    if not todo:
        return ActionResult(f"{user}: licenses already {'assigned' if add else 'removed'}", {"changed": False})
    location = payload.get("usage_location") or settings.get("users", {}).get("usage_location")
    if add and not current.get("usageLocation"):
        if not location:
            raise SkipRecord(f"{user} has no usageLocation; licenses need one (payload usage_location)")
        graph.call("PATCH", f"users/{seg(current['id'])}", needs=USER_WRITE, json={"usageLocation": location})
    body = {
        "addLicenses": [{"skuId": s, "disabledPlans": []} for s in todo] if add else [],
        "removeLicenses": [] if add else todo,
    }
    graph.call("POST", f"users/{seg(current['id'])}/assignLicense", needs=LICENSES, json=body)
    verb = "assigned" if add else "removed"
    return ActionResult(f"{user}: {verb} {len(todo)} license(s)", {"changed": True, verb: todo})


def revoke_sessions(graph: GraphClient, payload: dict[str, Any]) -> ActionResult:
    """Idempotent through `requested_at`: sessions already revoked since then are not revoked
    again (a second revocation would sign out someone who signed in legitimately afterwards)."""
    (user,) = need(payload, "user")
    current = must_get(graph, user, "id,signInSessionsValidFromDateTime")
    since = payload.get("requested_at")
    valid_from = current.get("signInSessionsValidFromDateTime")
    if since and valid_from and clock.parse(valid_from) >= clock.parse(since) - timedelta(seconds=1):
        return ActionResult(f"{user}: sessions already revoked at {valid_from}", {"changed": False})
    graph.call("POST", f"users/{seg(current['id'])}/revokeSignInSessions", needs=USER_REVOKE)
    return ActionResult(f"{user}: sign-in sessions revoked", {"changed": True})


def read_user(graph: GraphClient, payload: dict[str, Any]) -> ActionResult:
    (user,) = need(payload, "user")
    found = get_user(graph, user, USER_FIELDS + ",assignedLicenses")
    if found is None:
        return ActionResult(f"no user {user}", {"exists": False})
    manager = graph.call(
        "GET",
        f"users/{seg(found['id'])}/manager",
        needs=USER_READ,
        expect=(404,),
        params={"$select": "id,userPrincipalName"},
    )
    found["manager"] = None if manager.status_code == 404 else manager.json().get("userPrincipalName")
    found["groups"] = sorted(member_of(graph, found["id"]))
    found.pop("@odata.context", None)
    enabled = "enabled" if found.get("accountEnabled") else "disabled"
    return ActionResult(f"{found.get('userPrincipalName')}: {enabled}", {"exists": True, "user": found})


def users_delta(graph: GraphClient, link: str | None, select: str = USER_FIELDS) -> tuple[list[dict[str, Any]], str]:
    """All users (first call) or those changed since `link`, for HR drift checks. Returns the
    users and the new delta link; the link expires after 7 days unused (then start over: None)."""
    pages = graph.pages(link or "users/delta", needs=USER_READ, params=None if link else {"$select": select})
    users: list[dict[str, Any]] = []
    final = ""
    for page in pages:
        users.extend(page.get("value") or [])
        final = page.get("@odata.deltaLink") or final
    return users, final
