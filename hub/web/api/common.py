"""What every API view needs: the bearer-token check, JSON in and out, cursors, query parameters."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Response, g, request

from hub import jsonutil
from hub.app import current_hub
from hub.web import tokens
from hub.web.api import schemas
from hub.web.problem import Problem
from hub.web.tokens import Token

F = TypeVar("F", bound=Callable[..., Any])
MAX_ID = 2**63 - 1
CURSOR = re.compile(r"^[1-9][0-9]{0,17}$")


def requires(scope: str) -> Callable[[F], F]:
    """401 without a valid token, 403 when the token lacks `scope`."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def check(*args: Any, **kwargs: Any) -> Any:
            token = authenticate()
            if not token.allows(scope):
                challenge = f'Bearer realm="hub", error="insufficient_scope", scope="{scope}"'
                raise Problem(403, f"this token lacks the scope {scope!r}", headers={"WWW-Authenticate": challenge})
            g.token = token
            return view(*args, **kwargs)

        return check  # type: ignore[return-value]

    return wrap


def authenticate() -> Token:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Problem(401, "send `Authorization: Bearer <token>`", headers={"WWW-Authenticate": 'Bearer realm="hub"'})
    token = tokens.authenticate(current_hub().engine, value.strip())
    if token is None:
        raise Problem(
            401,
            "the token is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="hub", error="invalid_token"'},
        )
    return token


def current_token() -> Token:
    token: Token = g.token
    return token


def json_response(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(jsonutil.dumpb(doc), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_body(schema_name: str) -> dict[str, Any]:
    """The request's JSON body, checked against one of the request schemas (422 naming the fields)."""
    media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise Problem(415, f"send the body as application/json, not {media_type or '(none)'!r}")
    try:
        body = jsonutil.loads(request.get_data(cache=True))
    except jsonutil.JSONDecodeError as exc:
        raise Problem(
            400,
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})",
            line=exc.lineno,
            column=exc.colno,
            position=exc.pos,
        ) from None
    errors = schemas.check(schema_name, body)
    if errors:
        raise Problem(422, errors[0]["message"] if len(errors) == 1 else f"{len(errors)} problems", errors=errors)
    result: dict[str, Any] = body
    return result


def text_arg(name: str, max_length: int = 500) -> str | None:
    """An empty text filter filters nothing (`?queue=` is the same as no queue filter)."""
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if "\x00" in value or len(value) > max_length:
        raise Problem(400, f"query parameter {name!r} is not acceptable text (at most {max_length} characters)")
    return value


def enum_arg(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise Problem(400, f"query parameter {name!r} must be one of {', '.join(allowed)}")
    return value


def limit_arg(default: int = 50, maximum: int = 200) -> int:
    value = request.args.get("limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise Problem(400, f"query parameter 'limit' must be an integer from 1 to {maximum}")
    return int(value)


def datetime_arg(name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    parsed = parse_rfc3339(value) if schemas.is_datetime(value) else None
    if parsed is None:
        raise Problem(400, f"query parameter {name!r} must be an RFC 3339 date-time, e.g. 2026-11-29T08:00:00Z")
    return parsed


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)


def parse_rfc3339(value: str) -> datetime | None:
    """Every RFC 3339 date-time, including what Python's parser refuses (leap second, year 0000,
    nanoseconds), as an aware UTC datetime clamped to the representable range."""
    match = _RFC3339.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = int((match.group(7) or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(max(year, 1), month, day, hour, minute, min(second, 59), fraction, tzinfo=UTC)
    except ValueError:
        return None
    if match.group(8):
        offset = timedelta(hours=int(match.group(9)), minutes=int(match.group(10)))
        offset = offset if match.group(8) == "+" else -offset
        try:
            return local - offset
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC) if offset > timedelta(0) else datetime.max.replace(tzinfo=UTC)
    return local


def encode_cursor(last_id: int) -> str:
    """Cursors are opaque to clients; today they are the last id of the page (newest first)."""
    return str(last_id)


def cursor_arg() -> int | None:
    """The id a page continues after (pages run newest first)."""
    value = request.args.get("cursor")
    if value is None:
        return None
    if not CURSOR.match(value):
        raise Problem(400, "query parameter 'cursor' is not a cursor this API handed out")
    return int(value)


def page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    next_cursor = encode_cursor(items[-1]["id"]) if len(items) == limit and items else None
    return {"items": items, "next_cursor": next_cursor}


def id_or_none(value: str | int) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None
