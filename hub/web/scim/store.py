"""SCIM resources in `scim_resources`, and for every change of a User the raw change record in
the HR instance's inbox, in the same transaction: the answer goes out only after both are
committed, and the worker turns the record into person events like any other intake."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from hub import clock, jsonutil
from hub.pipeline import inbox
from hub.sdk.connector import RawEvent
from hub.store.tables import scim_resources
from hub.web.scim.errors import ScimError
from hub.web.scim.schema import GROUP, USER

KINDS = {"Users": ("User", USER, "userName"), "Groups": ("Group", GROUP, "displayName")}


def name_key(kind: str, data: dict[str, Any]) -> str:
    field = "userName" if kind == "User" else "displayName"
    return str(data.get(field) or "").strip().lower()[:300]


def get(conn: Connection, instance: str, kind: str, resource_id: str) -> Any:
    return conn.execute(
        select(scim_resources).where(
            scim_resources.c.instance == instance, scim_resources.c.kind == kind, scim_resources.c.id == resource_id
        )
    ).first()


def listing(conn: Connection, instance: str, kind: str, **exact: str) -> list[Any]:
    query = select(scim_resources).where(scim_resources.c.instance == instance, scim_resources.c.kind == kind)
    for column, value in exact.items():
        query = query.where(scim_resources.c[column] == value)
    return list(conn.execute(query.order_by(scim_resources.c.created_at, scim_resources.c.id)).all())


def _unique(conn: Connection, instance: str, kind: str, key: str, resource_id: str | None) -> None:
    found = conn.execute(
        select(scim_resources.c.id).where(
            scim_resources.c.instance == instance, scim_resources.c.kind == kind, scim_resources.c.name_key == key
        )
    ).scalar()
    if found is not None and found != resource_id:
        label = "userName" if kind == "User" else "displayName"
        raise ScimError(409, f"a {kind} with this {label} exists (id {found})", "uniqueness")


def create(conn: Connection, instance: str, kind: str, data: dict[str, Any]) -> Any:
    now = clock.now()
    key = name_key(kind, data)
    _unique(conn, instance, kind, key, None)
    resource_id = str(uuid.uuid4())
    row = {
        "id": resource_id,
        "instance": instance,
        "kind": kind,
        "name_key": key,
        "external_id": data.get("externalId"),
        "data": data,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with conn.begin_nested():
            conn.execute(scim_resources.insert().values(**row))
    except IntegrityError:
        raise ScimError(409, f"a {kind} with this name was created at the same time", "uniqueness") from None
    created = get(conn, instance, kind, resource_id)
    _record(conn, instance, kind, "create", None, created)
    return created


def replace(conn: Connection, instance: str, old: Any, data: dict[str, Any], operation: str) -> Any:
    key = name_key(old.kind, data)
    _unique(conn, instance, old.kind, key, old.id)
    done = conn.execute(
        update(scim_resources)
        .where(scim_resources.c.id == old.id, scim_resources.c.version == old.version)
        .values(
            data=data, name_key=key, external_id=data.get("externalId"), version=old.version + 1, updated_at=clock.now()
        )
    ).rowcount
    if not done:
        raise ScimError(412, "the resource changed meanwhile; read it again")
    new = get(conn, instance, old.kind, old.id)
    _record(conn, instance, old.kind, operation, old, new)
    return new


def delete(conn: Connection, instance: str, old: Any) -> None:
    conn.execute(scim_resources.delete().where(scim_resources.c.id == old.id))
    _record(conn, instance, old.kind, "delete", old, None)


def _record(conn: Connection, instance: str, kind: str, operation: str, before: Any, after: Any) -> None:
    """Users only: groups carry no person event."""
    if kind != "User":
        return
    row = after or before
    version = f"v{after.version}" if after is not None else "deleted"
    body = {
        "operation": operation,
        "id": row.id,
        "at": clock.isoformat(clock.now()),
        "before": before.data if before is not None else None,
        "after": after.data if after is not None else None,
    }
    event = RawEvent(f"scim:User:{row.id}:{version}", jsonutil.dumpb(body), {}, "application/json")
    inbox.store(conn, instance, [event])


def meta(row: Any, base: str) -> dict[str, Any]:
    endpoint = "Users" if row.kind == "User" else "Groups"
    return {
        "resourceType": row.kind,
        "created": clock.isoformat(row.created_at),
        "lastModified": clock.isoformat(row.updated_at),
        "version": etag(row),
        "location": f"{base}/{endpoint}/{row.id}",
    }


def etag(row: Any) -> str:
    return f'W/"{row.version}"'


def stamp(_now: datetime | None = None) -> str:
    return clock.isoformat(_now or clock.now())
