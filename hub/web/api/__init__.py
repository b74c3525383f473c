"""REST API `/api/v1`: tickets, events, connectors; bearer tokens with scopes; OpenAPI 3.1.

Every ticket change goes through hub.tickets.service inside one write transaction, exactly as a
connector event does, so history, notifications and SLA listeners see API changes the same way.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response
from sqlalchemy.exc import DBAPIError

from hub.web.problem import problem_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger("hub.web.api")


@bp.errorhandler(DBAPIError)
def _store_unavailable(exc: DBAPIError) -> Response:
    """The database went away or refused the transaction: nothing was committed, retry later."""
    if not (exc.connection_invalidated or type(exc).__name__ in ("OperationalError", "InterfaceError")):
        raise exc
    log.error("api: store unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
    return problem_response(503, "the store is unavailable; retry later", headers={"Retry-After": "30"})


def init_app(app: Flask) -> None:
    from hub.web.api import connectors, events, openapi, tickets  # noqa: F401  (routes register on import)

    app.register_blueprint(bp)
