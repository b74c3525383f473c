"""/metrics: Prometheus text a scraper parses, with the figures the issue asks for."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from hub.pipeline.worker import drain
from tests.hub.web.conftest import signed


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_intake_failures_processing_and_backlog(client, web_hub):
    before = scrape(client)
    good, headers = signed({"ref": "A", "title": "Fine"})
    assert client.post("/hooks/intake", data=good, headers=headers).status_code == 202
    bad, headers = signed({"ref": "B", "summary": "no title"})
    assert client.post("/hooks/intake", data=bad, headers=headers).status_code == 202
    headers["webhook-signature"] = "v1,AAAA"
    assert client.post("/hooks/intake", data=bad, headers=headers).status_code == 401
    drain(web_hub)
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("hub_events_received_total", instance="intake", via="webhook") == 2
    assert delta("hub_webhook_verification_failures_total", instance="intake", reason="signature") == 1
    assert delta("hub_webhook_requests_total", instance="intake", status="401") == 1
    assert delta("hub_events_processed_total", instance="intake", outcome="done") == 1
    assert delta("hub_events_processed_total", instance="intake", outcome="dead") == 1
    assert delta("hub_pipeline_latency_seconds_count", instance="intake") == 2
    assert value(after, "hub_inbox_events", instance="intake", state="done") == 1
    assert value(after, "hub_inbox_events", instance="intake", state="dead") == 1
    assert value(after, "hub_store_up") == 1
    assert ("hub_outbox_oldest_pending_age_seconds", ()) in after
