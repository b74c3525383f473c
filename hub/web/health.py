"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from hub.app import current_hub
from hub.store.migrate import is_current

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The database answers and its schema is current."""
    try:
        current = is_current(current_hub().engine)
    except SQLAlchemyError as exc:
        return jsonify(status="unavailable", reason=f"database unreachable: {type(exc).__name__}"), 503
    if not current:
        return jsonify(status="unavailable", reason="database schema is not current: run `hub db upgrade`"), 503
    return jsonify(status="ok")
