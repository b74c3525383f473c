"""Intake health: silence against the usual weekly pattern, failing pollers, expiring credentials."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from hub import clock
from hub.cli import main
from hub.health import assess, raise_alerts
from hub.pipeline import circuit
from hub.pipeline.inbox import receive
from hub.pipeline.state import record_expiry
from hub.sdk import RawEvent
from hub.store.db import read
from hub.tickets import queries

CONFIG = """
hub:
  data_dir: {data_dir}
  health: {silence_after: 1h, alert_queue: it-ops}
instances:
  - {id: mail, connector: memory}
  - {id: quiet, connector: memory, health: {expect_traffic: false}}
"""


def event_at(hub, instance: str, when, key: str) -> None:
    receive(hub.engine, instance, [RawEvent(key, b"{}", received_at=when)])


def problems(hub) -> dict[str, dict[str, str]]:
    return {h.instance: h.problems for h in assess(hub)}


def alerts(hub) -> list[dict]:
    with read(hub.engine) as conn:
        return queries.search(conn, queue="it-ops")


def test_silence_at_a_usually_busy_time_raises_one_alert_then_resolves(make_hub, fake_clock):
    hub = make_hub(CONFIG)
    now = clock.now()
    for week in (1, 2, 3):  # busy at this hour on the same weekday
        event_at(hub, "mail", now - timedelta(weeks=week, minutes=20), f"w{week}")
        event_at(hub, "quiet", now - timedelta(weeks=week, minutes=20), f"q{week}")
    event_at(hub, "mail", now - timedelta(hours=2), "two-hours-ago")
    assert "silent" in problems(hub)["mail"]
    assert problems(hub)["quiet"] == {}  # opted out
    assert raise_alerts(hub) == {"opened": 1, "resolved": 0}
    assert raise_alerts(hub) == {"opened": 0, "resolved": 0}
    (alert,) = alerts(hub)
    assert alert["type"] == "alert" and alert["title"] == "Intake problem on mail: silent"
    assert "usually has traffic" in alert["description"]

    event_at(hub, "mail", now, "it-is-back")
    assert raise_alerts(hub) == {"opened": 0, "resolved": 1}
    assert alerts(hub)[0]["status"] == "resolved"


def test_quiet_at_an_unusual_time_is_not_a_problem(make_hub, fake_clock):
    hub = make_hub(CONFIG)
    now = clock.now()
    event_at(hub, "mail", now - timedelta(weeks=1, hours=10), "other-time")  # traffic only at another hour
    event_at(hub, "mail", now - timedelta(weeks=2, minutes=20), "once")  # one week is not a pattern
    assert problems(hub)["mail"] == {}
    assert raise_alerts(hub) == {"opened": 0, "resolved": 0}


def test_expiries_warn_by_kind(make_hub, fake_clock):
    hub = make_hub(CONFIG)
    now = clock.now()
    record_expiry(hub.engine, "mail", "subscription", now + timedelta(minutes=90))
    record_expiry(hub.engine, "mail", "credential", now + timedelta(days=20))
    assert set(problems(hub)["mail"]) == {"expiring:subscription"}
    record_expiry(hub.engine, "mail", "credential", now + timedelta(days=10))
    record_expiry(hub.engine, "mail", "subscription", now - timedelta(minutes=1))
    assert set(problems(hub)["mail"]) == {"expiring:credential", "expired:subscription"}
    record_expiry(hub.engine, "mail", "subscription", None)  # renewed and no longer tracked
    assert set(problems(hub)["mail"]) == {"expiring:credential"}


def test_failing_poller_and_status_command(make_hub, fake_clock, monkeypatch):
    hub = make_hub(CONFIG)
    for _ in range(circuit.THRESHOLD):
        circuit.record_failure(hub.engine, "mail", "in", "401 invalid_client")
    assert "failing" in problems(hub)["mail"]
    monkeypatch.setenv("HUB_CONFIG", str(hub.config.path))
    monkeypatch.setenv("HUB_DATABASE_URL", hub.engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(main, ["status", "--json"])
    assert result.exit_code == 3
    rows = {r["instance"]: r for r in json.loads(result.output)}
    assert rows["mail"]["circuit"] == "in:open out:closed" and "401 invalid_client" in rows["mail"]["problems"]
    assert rows["quiet"]["problems"] == "ok"


def test_health_is_exposed_as_metrics(make_hub, fake_clock):
    from hub.app import close_app, create_app

    hub = make_hub(CONFIG)
    for _ in range(circuit.THRESHOLD):
        circuit.record_failure(hub.engine, "mail", "in", "timeout")
    record_expiry(hub.engine, "mail", "credential", clock.now() + timedelta(days=3))
    app = create_app(hub=hub)
    try:
        text = app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        close_app(app)
    assert 'hub_intake_problem{instance="mail",kind="failing"} 1.0' in text
    assert 'hub_intake_problem{instance="mail",kind="expiring:credential"} 1.0' in text
    assert 'hub_circuit_open{direction="in",instance="mail"} 1.0' in text
    assert 'hub_expiry_seconds{instance="mail",kind="credential"} 259200.0' in text
