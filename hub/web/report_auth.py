"""Bearer-token check for the report endpoints, against the api_tokens table (SHA-256 of the
token, scopes, revocation). Stand-in until the REST API's own `requires` lands (branch issue-3):
then hub/web/reports.py imports that one instead - one line."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from flask import jsonify
from sqlalchemy import select

from hub.app import current_hub
from hub.store.db import read
from hub.store.tables import api_tokens

F = TypeVar("F", bound=Callable[..., Any])


def _problem(status: int, detail: str, challenge: str) -> Any:
    response = jsonify(type="about:blank", title="Unauthorized" if status == 401 else "Forbidden", status=status,
                       detail=detail)  # fmt: skip
    response.status_code = status
    response.headers["WWW-Authenticate"] = challenge
    response.mimetype = "application/problem+json"
    return response


def requires(scope: str) -> Callable[[F], F]:
    """401 without a valid token, 403 when the token has neither `scope` nor `admin`."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def check(*args: Any, **kwargs: Any) -> Any:
            from flask import request

            kind, _, value = request.headers.get("Authorization", "").partition(" ")
            if kind.lower() != "bearer" or not value.strip():
                return _problem(401, "send `Authorization: Bearer <token>`", 'Bearer realm="hub"')
            digest = hashlib.sha256(value.strip().encode()).hexdigest()
            live = api_tokens.c.revoked_at.is_(None)
            with read(current_hub().engine) as conn:
                row = conn.execute(select(api_tokens.c.scopes).where(api_tokens.c.token_hash == digest, live)).first()
            if row is None:
                return _problem(401, "the token is unknown or revoked", 'Bearer realm="hub", error="invalid_token"')
            if scope not in row.scopes and "admin" not in row.scopes:
                challenge = f'Bearer realm="hub", error="insufficient_scope", scope="{scope}"'
                return _problem(403, f"this token lacks the scope {scope!r}", challenge)
            return view(*args, **kwargs)

        return check  # type: ignore[return-value]

    return wrap
