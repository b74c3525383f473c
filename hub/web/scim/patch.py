"""PATCH (RFC 7644 3.5.2): add / remove / replace with attribute paths and value filters, applied
to a copy so a request changes all or nothing. Tolerates what identity platforms actually send:
capitalised op names, `"False"` for booleans, a bare id for the enterprise manager."""

from __future__ import annotations

import copy
from typing import Any

from hub.web.scim.errors import ScimError
from hub.web.scim.filter import Compare, FilterError, PatchPath, get_ci, matches, parse_path
from hub.web.scim.schema import ENTERPRISE, MULTI_VALUED, PATCH, READ_ONLY, resolve


def apply(resource: dict[str, Any], body: Any) -> dict[str, Any]:
    """The patched copy; raises ScimError (400 with scimType) on the first bad operation."""
    if not isinstance(body, dict) or PATCH not in (body.get("schemas") or []):
        raise ScimError(400, f"a PATCH body must list the schema {PATCH}", "invalidSyntax")
    operations = body.get("Operations") or body.get("operations")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    doc = copy.deepcopy(resource)
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise ScimError(400, f"Operations[{index}] is not an object", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "remove", "replace"):
            raise ScimError(400, f"Operations[{index}].op must be add, remove or replace", "invalidSyntax")
        try:
            _one(doc, op, operation.get("path"), operation.get("value"), "value" in operation)
        except FilterError as exc:
            raise ScimError(400, f"Operations[{index}].path: {exc}", "invalidPath") from None
        except ScimError as exc:
            raise ScimError(exc.status, f"Operations[{index}]: {exc.detail}", exc.scim_type) from None
    return doc


def _one(doc: dict[str, Any], op: str, path: Any, value: Any, has_value: bool) -> None:
    if path in (None, ""):
        if op == "remove":
            raise ScimError(400, "remove needs a path", "noTarget")
        if not isinstance(value, dict):
            raise ScimError(400, f"{op} without a path needs an object value", "invalidValue")
        for key, item in value.items():
            _one(doc, op, key, item, True)
        return
    if not isinstance(path, str):
        raise ScimError(400, "path must be a string", "invalidPath")
    if op != "remove" and not has_value:
        raise ScimError(400, f"{op} needs a value", "invalidValue")
    if resolve(path) and resolve(path)[0].startswith("urn:") and len(resolve(path)) == 1:
        if op == "remove":  # the whole extension
            _pop(doc, resolve(path)[0])
            return
        for key, item in (value or {}).items():
            _one(doc, op, f"{resolve(path)[0]}:{key}", item, True)
        return
    target = parse_path(path)
    name = target.attr[-1]
    if name in READ_ONLY or name.lower() in {r.lower() for r in READ_ONLY}:
        raise ScimError(400, f"{name} is read-only", "mutability")
    parent = _container(doc, target.attr[:-1], create=op != "remove")
    if parent is None:
        return
    key = _key(parent, name)
    value = _coerce(target, value)
    if target.where is not None:
        _filtered(parent, key, target, op, value)
    elif target.sub is not None:
        _sub(parent, key, target.sub, op, value)
    elif op == "remove":
        _pop(parent, key)
    elif op == "add" and _is_multi(key):
        items = value if isinstance(value, list) else [value]
        have = parent.setdefault(key, [])
        have.extend(i for i in items if i not in have)
    elif op == "add" and isinstance(value, dict) and isinstance(parent.get(key), dict):
        parent[key].update(value)
    else:
        parent[key] = value


def _is_multi(key: str) -> bool:
    return key in MULTI_VALUED


def _key(parent: dict[str, Any], name: str) -> str:
    """The existing key for `name` (case-insensitive), else the canonical spelling."""
    for key in parent:
        if key.lower() == name.lower():
            return key
    for known in MULTI_VALUED | {"userName", "displayName", "active", "name", "title", "externalId", "manager"}:
        if known.lower() == name.lower():
            return known
    return name


def _container(doc: dict[str, Any], parts: tuple[str, ...], *, create: bool) -> dict[str, Any] | None:
    node = doc
    for part in parts:
        key = _key(node, part)
        child = node.get(key)
        if child is None:
            if not create:
                return None
            child = node[key] = {}
            if part == ENTERPRISE:
                schemas = doc.setdefault("schemas", [])
                if ENTERPRISE not in schemas:
                    schemas.append(ENTERPRISE)
        if not isinstance(child, dict):
            raise ScimError(400, f"{part} is not a complex attribute", "invalidPath")
        node = child
    return node


def _pop(parent: dict[str, Any], key: str) -> None:
    parent.pop(key, None)


def _sub(parent: dict[str, Any], key: str, sub: str, op: str, value: Any) -> None:
    current = parent.get(key)
    if isinstance(current, list):  # `emails.value`: every element
        for item in current:
            _set_or_pop(item, sub, op, value)
        return
    if current is None:
        if op == "remove":
            return
        current = parent[key] = {}
    _set_or_pop(current, sub, op, value)


def _set_or_pop(item: dict[str, Any], sub: str, op: str, value: Any) -> None:
    sub_key = next((k for k in item if k.lower() == sub.lower()), sub)
    if op == "remove":
        item.pop(sub_key, None)
    else:
        item[sub_key] = value


def _filtered(parent: dict[str, Any], key: str, target: PatchPath, op: str, value: Any) -> None:
    items = parent.get(key)
    items = items if isinstance(items, list) else ([items] if isinstance(items, dict) else [])
    hits = [i for i in items if isinstance(i, dict) and matches(target.where, i)]  # type: ignore[arg-type]
    if not hits:
        if op == "remove":
            return  # already absent
        seed = _seed(target)  # `emails[type eq "work"].value` on a user without one: create it
        if seed is None:
            raise ScimError(400, f"no value of {key} matches the filter", "noTarget")
        hits = [seed]
        parent[key] = [*items, seed]
    for hit in hits:
        if target.sub is not None:
            _set_or_pop(hit, target.sub, op, value)
        elif op == "remove":
            items.remove(hit)
            parent[key] = items
        elif isinstance(value, dict):
            if op == "replace":
                hit.clear()
            hit.update(value)
        else:
            raise ScimError(400, f"a value of {key} must be an object", "invalidValue")
    if op == "remove" and not parent.get(key):
        parent.pop(key, None)


def _seed(target: PatchPath) -> dict[str, Any] | None:
    where = target.where
    if isinstance(where, Compare) and where.op == "eq" and len(where.path) == 1:
        return {where.path[0]: where.value}
    return None


def _coerce(target: PatchPath, value: Any) -> Any:
    """Entra ID sends `"False"` for active and the manager as a bare id string."""
    name = (target.sub or target.attr[-1]).lower()
    if name == "active" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if name == "manager" and target.sub is None and isinstance(value, str):
        return {"value": value}
    if name == "manager" and isinstance(value, dict):
        return {k: v for k, v in value.items()} if get_ci(value, "value") is not None or value else value
    return value
