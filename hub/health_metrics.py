"""Intake health as Prometheus gauges, read at scrape time, so a monitoring system can page on a
silent or failing instance even when nobody looks at the alert queue."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from hub import clock
from hub.health import assess
from hub.runtime import Hub

log = logging.getLogger("hub.metrics")


class HealthCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            report = assess(self.hub)
        except SQLAlchemyError as exc:
            log.warning("metrics: health unavailable: %s", type(exc).__name__)
            return
        now = clock.now()
        problems = GaugeMetricFamily(
            "hub_intake_problem",
            "1 for each open intake problem (silent, failing, delivery, expiring:..).",
            labels=["instance", "kind"],
        )
        lag = GaugeMetricFamily(
            "hub_intake_lag_seconds", "Seconds since the instance's last event.", labels=["instance"]
        )
        circuit = GaugeMetricFamily(
            "hub_circuit_open", "1 while an instance's circuit is open.", labels=["instance", "direction"]
        )
        expiry = GaugeMetricFamily(
            "hub_expiry_seconds",
            "Seconds until a reported credential/subscription expires.",
            labels=["instance", "kind"],
        )
        for health in report:
            for kind in health.problems:
                problems.add_metric([health.instance, kind], 1)
            seconds = health.lag_seconds(now)
            if seconds is not None:
                lag.add_metric([health.instance], seconds)
            circuit.add_metric([health.instance, "in"], 1 if health.circuit_in == "open" else 0)
            circuit.add_metric([health.instance, "out"], 1 if health.circuit_out == "open" else 0)
            for kind, at in health.expiries.items():
                expiry.add_metric([health.instance, kind], (at - now).total_seconds())
        yield from (problems, lag, circuit, expiry)
