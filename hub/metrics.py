"""Prometheus metrics of this process, plus a collector that reads shared state from the store.

Counters live in one registry per process (what this process did: requests answered, signatures
refused, events processed). Figures every process shares (inbox by state, outbox backlog) are read
from the database when /metrics is scraped, so they are right however many processes there are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from hub import clock
from hub.store.db import read
from hub.store.tables import inbox, outbox

log = logging.getLogger("hub.metrics")
disable_created_metrics()  # the *_created series only double the output for our purposes
REGISTRY = CollectorRegistry()

WEBHOOK_REQUESTS = Counter(
    "hub_webhook_requests",
    "Webhook requests answered, by instance and HTTP status.",
    ["instance", "status"],
    registry=REGISTRY,
)
VERIFICATION_FAILURES = Counter(
    "hub_webhook_verification_failures",
    "Webhook requests refused because the signature or token did not verify.",
    ["instance", "reason"],
    registry=REGISTRY,
)
EVENTS_RECEIVED = Counter(
    "hub_events_received",
    "Raw events newly stored in the inbox by this process (duplicates not counted).",
    ["instance", "via"],
    registry=REGISTRY,
)
EVENTS_DUPLICATE = Counter(
    "hub_events_duplicate",
    "Deliveries acknowledged without storing anything because the event was already in the inbox.",
    ["instance", "via"],
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "hub_events_processed",
    "Inbox events the worker of this process finished: done (normalized and applied), ignored, dead.",
    ["instance", "outcome"],
    registry=REGISTRY,
)
PIPELINE_LATENCY = Histogram(
    "hub_pipeline_latency_seconds",
    "Time from an event's receipt to its ticket change being committed (or its dead-lettering).",
    ["instance"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)


class StoreCollector(Collector):
    """Inbox events by instance and state, and the outbox backlog, read at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("hub_store_up", "1 when the database answered the metrics queries.")
        try:
            with read(self.engine) as conn:
                events = conn.execute(
                    select(inbox.c.instance, inbox.c.state, func.count()).group_by(inbox.c.instance, inbox.c.state)
                ).all()
                backlog = conn.execute(
                    select(outbox.c.state, func.count(), func.min(outbox.c.created_at)).group_by(outbox.c.state)
                ).all()
        except SQLAlchemyError as exc:
            log.warning("metrics: store unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_state = GaugeMetricFamily(
            "hub_inbox_events", "Raw events in the inbox by instance and state.", labels=["instance", "state"]
        )
        for instance, state, count in events:
            by_state.add_metric([instance, state], int(count))
        yield by_state
        pending = GaugeMetricFamily("hub_outbox_backlog", "Outbound actions by state.", labels=["state"])
        oldest = GaugeMetricFamily("hub_outbox_oldest_pending_age_seconds", "Age of the oldest pending action.")
        age = 0.0
        for state, count, first in backlog:
            pending.add_metric([state], int(count))
            if state == "pending" and first is not None:
                age = max(0.0, (clock.now() - first).total_seconds())
        oldest.add_metric([], age)
        yield pending
        yield oldest
