"""REST API `/api/v1`: tickets, events, connectors; bearer tokens with scopes; OpenAPI 3.1.

Every ticket change goes through hub.tickets.service inside one write transaction, exactly as a
connector event does, so history, notifications and SLA listeners see API changes the same way.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from hub.web.api import connectors, events, openapi, tickets  # noqa: F401  (routes register on import)

    app.register_blueprint(bp)
