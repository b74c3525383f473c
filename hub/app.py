"""Flask app factory. Blueprints register themselves here; the Hub is the one extension."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify

from hub.config import config_path, load_config
from hub.runtime import Hub


def create_app(config: str | None = None, *, hub: Hub | None = None, **overrides: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(overrides)
    app.extensions["hub"] = hub or Hub(load_config(config_path(config)))
    app.extensions["hub.closers"] = []
    # Werkzeug stops reading a body past this (chunked uploads too); the webhook answers 413.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = app.extensions["hub"].settings.max_body_bytes
    from hub.web import api, health, hooks, metrics_view, problem, reports, scim, status

    problem.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics_view.bp)
    hooks.init_app(app)
    api.init_app(app)
    app.register_blueprint(status.bp)  # requester status pages (signed links)
    app.register_blueprint(reports.bp)  # /api/v1/reports
    scim.init_app(app)
    return app


def close_app(app: Flask) -> None:
    """Stop what the app started lazily (the webhook group committer), at shutdown."""
    for close in app.extensions.get("hub.closers", []):
        close()


def current_hub() -> Hub:
    hub: Hub = current_app.extensions["hub"]
    return hub


__all__ = ["close_app", "create_app", "current_hub", "jsonify"]
