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
    from hub.web import health, reports, status

    app.register_blueprint(health.bp)
    app.register_blueprint(status.bp)  # requester status pages (signed links)
    app.register_blueprint(reports.bp)  # /api/v1/reports
    return app


def current_hub() -> Hub:
    hub: Hub = current_app.extensions["hub"]
    return hub


__all__ = ["create_app", "current_hub", "jsonify"]
