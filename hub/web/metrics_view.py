"""`GET /metrics` in the Prometheus text format: this process's counters plus store figures."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from hub import metrics
from hub.app import current_hub
from hub.health_metrics import HealthCollector

bp = Blueprint("metrics", __name__)


def _store_registry() -> CollectorRegistry:
    registry: CollectorRegistry | None = current_app.extensions.get("hub.metrics_store")
    if registry is None:
        registry = CollectorRegistry()
        registry.register(metrics.StoreCollector(current_hub().engine))
        registry.register(HealthCollector(current_hub()))
        current_app.extensions["hub.metrics_store"] = registry
    return registry


@bp.get("/metrics")
def scrape() -> Response:
    body = generate_latest(metrics.REGISTRY) + generate_latest(_store_registry())
    return Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
