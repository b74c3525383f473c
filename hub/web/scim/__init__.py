"""`/scim/v2`: a SCIM 2.0 service provider (RFC 7643/7644) for HR systems and identity platforms.

The bearer token picks the HR instance (each `scim` instance has its own `settings.token`), so
one URL serves several. Users and Groups live in `scim_resources`; every change of a User is also
stored as a raw event in the instance's inbox in the same transaction (see store.py), and the
answer goes out only after the commit. Deprovisioning by PATCH active=false (Entra ID) and DELETE
both become leaver events in the connector's normalize().
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from hub import jsonutil
from hub.app import current_hub
from hub.store.db import read, write
from hub.web.scim import filter as scim_filter
from hub.web.scim import patch, schema, store
from hub.web.scim.errors import MEDIA_TYPE, ScimError

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
MAX_RESULTS = 500
DEFAULT_COUNT = 100


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.errorhandler(ScimError)
def _scim_error(exc: ScimError) -> Response:
    return exc.response()


@bp.errorhandler(SQLAlchemyError)
def _store_down(exc: SQLAlchemyError) -> Response:
    return ScimError(503, "the store is unavailable; retry later", headers={"Retry-After": "30"}).response()


@bp.before_request
def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="scim"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise ScimError(401, "send Authorization: Bearer <token>", headers=challenge)
    found = None
    for inst in current_hub().config.instances:
        expected = str(inst.settings.get("token") or "") if inst.connector == "scim" and inst.enabled else ""
        if expected and hmac.compare_digest(expected.encode(), token.strip().encode()):
            found = inst.id
    if found is None:
        raise ScimError(401, "the token is not valid for any SCIM instance", headers=challenge)
    g.scim_instance = found


def _instance() -> str:
    instance: str = g.scim_instance
    return instance


def _base() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix  # type: ignore[operator]


def reply(doc: Any, status: int = 200, etag: str | None = None, location: str | None = None) -> Response:
    response = Response(jsonutil.dumpb(doc), status=status, mimetype=MEDIA_TYPE)
    if etag:
        response.headers["ETag"] = etag
    if location:
        response.headers["Location"] = location
    return response


def _body() -> dict[str, Any]:
    media = (request.content_type or "").split(";", 1)[0].strip().lower()
    if media not in (MEDIA_TYPE, "application/json"):
        raise ScimError(415, f"send {MEDIA_TYPE}, not {media or '(none)'!r}")
    try:
        body = jsonutil.loads(request.get_data(cache=True))
    except jsonutil.JSONDecodeError as exc:
        raise ScimError(400, f"the body is not valid JSON: {exc.msg}", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return body


def _wake() -> None:
    intake = current_app.extensions.get("hub.intake")
    if intake is not None and intake.wake is not None:
        intake.wake()


# --- discovery -------------------------------------------------------------------------------


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> Response:
    return reply(schema.service_provider_config(_base(), MAX_RESULTS))


def _listed(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [schema.LIST],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }


@bp.get("/ResourceTypes")
def resource_types() -> Response:
    return reply(_listed(schema.resource_types(_base())))


@bp.get("/ResourceTypes/<name>")
def resource_type(name: str) -> Response:
    for item in schema.resource_types(_base()):
        if item["id"] == name:
            return reply(item)
    raise ScimError(404, f"no resource type {name!r}")


@bp.get("/Schemas")
def schemas_list() -> Response:
    return reply(_listed(schema.schemas(_base())))


@bp.get("/Schemas/<urn>")
def schema_one(urn: str) -> Response:
    for item in schema.schemas(_base()):
        if item["id"] == urn:
            return reply(item)
    raise ScimError(404, f"no schema {urn!r}")


# --- resources -------------------------------------------------------------------------------


def _kind(endpoint: str) -> tuple[str, str, str]:
    return store.KINDS[endpoint]


def document(conn: Any, row: Any) -> dict[str, Any]:
    doc = {k: v for k, v in row.data.items() if k not in ("id", "meta")}
    doc["id"] = row.id
    doc["meta"] = store.meta(row, _base())
    if row.kind == "User":
        groups = [
            {"value": g.id, "display": g.data.get("displayName"), "$ref": f"{_base()}/Groups/{g.id}"}
            for g in store.listing(conn, row.instance, "Group")
            if any(str(m.get("value")) == row.id for m in g.data.get("members") or [] if isinstance(m, dict))
        ]
        if groups:
            doc["groups"] = groups
    return doc


def _project(doc: dict[str, Any]) -> dict[str, Any]:
    """`attributes` / `excludedAttributes` (top-level names); id, schemas and meta always stay."""
    keep = [a.strip().lower() for a in (request.args.get("attributes") or "").split(",") if a.strip()]
    drop = [a.strip().lower() for a in (request.args.get("excludedAttributes") or "").split(",") if a.strip()]
    always = {"id", "schemas", "meta"}
    if keep:
        wanted = {schema.resolve(a)[0].lower() for a in keep}
        doc = {k: v for k, v in doc.items() if k.lower() in wanted or k in always}
    if drop:
        unwanted = {schema.resolve(a)[0].lower() for a in drop}
        doc = {k: v for k, v in doc.items() if k.lower() not in unwanted or k in always}
    return doc


def _clean(kind: str, core: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a full resource (POST, PUT): its schema, its required name, no read-only fields."""
    if core not in (body.get("schemas") or []):
        raise ScimError(400, f"schemas must include {core}", "invalidSyntax")
    data = {k: v for k, v in body.items() if k.lower() not in ("id", "meta", "groups")}
    return _check(kind, data)


def _check(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    name = "userName" if kind == "User" else "displayName"
    value = scim_filter.get_ci(data, name)
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, f"{name} is required", "invalidValue")
    active = data.get("active")
    if isinstance(active, str) and active.lower() in ("true", "false"):
        data["active"] = active.lower() == "true"
    elif active is not None and not isinstance(active, bool):
        raise ScimError(400, "active must be a boolean", "invalidValue")
    manager = (data.get(schema.ENTERPRISE) or {}).get("manager")
    if isinstance(manager, str):
        data[schema.ENTERPRISE]["manager"] = {"value": manager}
    return data


def _load(conn: Any, endpoint: str, resource_id: str) -> Any:
    kind = _kind(endpoint)[0]
    row = store.get(conn, _instance(), kind, resource_id)
    if row is None:
        raise ScimError(404, f"no {kind} {resource_id}")
    return row


def _precondition(row: Any) -> None:
    wanted = request.headers.get("If-Match")
    if wanted is None:
        return
    tags = {t.strip() for t in wanted.split(",")}
    if "*" not in tags and store.etag(row) not in tags and store.etag(row)[2:] not in tags:
        raise ScimError(412, f"the resource is at version {store.etag(row)}, not {wanted}")


@bp.post("/<any(Users, Groups):endpoint>")
def create(endpoint: str) -> Response:
    kind, core, _name = _kind(endpoint)
    data = _clean(kind, core, _body())
    with write(current_hub().engine) as conn:
        row = store.create(conn, _instance(), kind, data)
        doc = document(conn, row)
    _wake()
    return reply(doc, 201, store.etag(row), doc["meta"]["location"])


@bp.get("/<any(Users, Groups):endpoint>/<resource_id>")
def get_one(endpoint: str, resource_id: str) -> Response:
    with read(current_hub().engine) as conn:
        row = _load(conn, endpoint, resource_id)
        if request.headers.get("If-None-Match") == store.etag(row):
            return Response(status=304, headers={"ETag": store.etag(row)})
        doc = document(conn, row)
    return reply(_project(doc), etag=store.etag(row))


@bp.put("/<any(Users, Groups):endpoint>/<resource_id>")
def replace(endpoint: str, resource_id: str) -> Response:
    kind, core, _name = _kind(endpoint)
    data = _clean(kind, core, _body())
    with write(current_hub().engine) as conn:
        row = _load(conn, endpoint, resource_id)
        _precondition(row)
        row = store.replace(conn, _instance(), row, data, "replace")
        doc = document(conn, row)
    _wake()
    return reply(doc, etag=store.etag(row))


@bp.patch("/<any(Users, Groups):endpoint>/<resource_id>")
def modify(endpoint: str, resource_id: str) -> Response:
    kind = _kind(endpoint)[0]
    body = _body()
    with write(current_hub().engine) as conn:
        row = _load(conn, endpoint, resource_id)
        _precondition(row)
        data = _check(kind, patch.apply(dict(row.data), body))
        if data != row.data:
            row = store.replace(conn, _instance(), row, data, "patch")
        doc = document(conn, row)
    _wake()
    return reply(doc, etag=store.etag(row))


@bp.delete("/<any(Users, Groups):endpoint>/<resource_id>")
def remove(endpoint: str, resource_id: str) -> Response:
    with write(current_hub().engine) as conn:
        row = _load(conn, endpoint, resource_id)
        _precondition(row)
        store.delete(conn, _instance(), row)
    _wake()
    return Response(status=204)


@bp.get("/<any(Users, Groups):endpoint>")
def search(endpoint: str) -> Response:
    kind = _kind(endpoint)[0]
    start = _int_arg("startIndex", 1)
    count = min(_int_arg("count", DEFAULT_COUNT), MAX_RESULTS)
    text = request.args.get("filter")
    try:
        node = scim_filter.parse(text) if text else None
    except (scim_filter.FilterError, ValueError) as exc:
        raise ScimError(400, f"filter: {exc}", "invalidFilter") from None
    with read(current_hub().engine) as conn:
        rows = store.listing(conn, _instance(), kind, **_narrow(kind, node))
        docs = [document(conn, r) for r in rows]
    found = [d for d in docs if node is None or scim_filter.matches(node, d)]
    found = _sorted(found)
    page = found[max(start, 1) - 1 :][:count]
    return reply(
        {
            "schemas": [schema.LIST],
            "totalResults": len(found),
            "startIndex": max(start, 1),
            "itemsPerPage": len(page),
            "Resources": [_project(d) for d in page],
        }
    )


def _narrow(kind: str, node: Any) -> dict[str, str]:
    """`userName eq "x"` (what Entra ID asks before every create) reads one row, not all."""
    if isinstance(node, scim_filter.Compare) and node.op == "eq" and isinstance(node.value, str):
        name = node.path[0].lower() if len(node.path) == 1 else ""
        if (kind, name) in (("User", "username"), ("Group", "displayname")):
            return {"name_key": node.value.strip().lower()}
    return {}


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        return max(0, int(value))
    except ValueError:
        raise ScimError(400, f"{name} must be an integer", "invalidValue") from None


def _sorted(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sort_by = request.args.get("sortBy")
    if not sort_by:
        return docs
    path = schema.resolve(sort_by)
    descending = (request.args.get("sortOrder") or "ascending").lower() == "descending"

    def key(doc: dict[str, Any]) -> tuple[int, str]:
        values = scim_filter.values_at(doc, path)
        return (0, str(values[0]).lower()) if values else (1, "")

    present = sorted((d for d in docs if key(d)[0] == 0), key=key, reverse=descending)
    return present + [d for d in docs if key(d)[0] == 1]  # missing values last either way


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    raise ScimError(404, f"no SCIM endpoint /{rest}")
