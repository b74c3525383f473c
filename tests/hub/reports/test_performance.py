"""Performance reports over known tickets, on SQLite and PostgreSQL: the numbers a manager reads."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import random
import statistics
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from hub.app import create_app
from hub.cli import run_cli
from hub.reports import charts, percentiles
from hub.reports import performance as performance_module
from hub.reports.performance import performance
from hub.store.db import read, write
from hub.store.tables import api_tokens
from hub.tickets import service, survey
from hub.tickets.service import Actor

ROUTING = """
triage_queue: triage
default_calendar: always
calendars:
  always: {timezone: UTC, hours: {mon-sun: ["00:00-24:00"]}}
queues:
  public-works: {department: Public Works}
  streets: {department: Public Works}
  water: {department: Utilities}
sla:
  default_policy: standard
  policies:
    - name: standard
      calendar: always
      targets: {normal: {first_response: 2h, resolution: 8h}, urgent: {first_response: 30m, resolution: 4h}}
rules:
  - {name: potholes, when: {category: pothole}, set: {queue: public-works}}
  - {name: water, when: {keywords: flooding}, set: {queue: water, priority: urgent}}
"""
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AGENT = Actor("api:agent")


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def make(conn, title: str, at: datetime, **data) -> int:
    return service.create_ticket(conn, {"title": title, "requester": {"email": "r@example.org"}, **data},
                                 instance="src", connector="memory", channel="api", prefix="REQ", actor=AGENT,
                                 now=at)  # fmt: skip


def status(conn, ticket_id: int, value: str, at: datetime) -> None:
    service.change_status(conn, ticket_id, value, actor=AGENT, now=at)


@pytest.fixture
def hub(desk_hub):
    hub = desk_hub(routing=ROUTING)
    with write(hub.engine) as conn:
        make(conn, "Old one still open", h(-24 * 40), category="pothole")
        pw1 = make(conn, "PW1", h(0), category="pothole")
        status(conn, pw1, "in_progress", h(1))
        status(conn, pw1, "resolved", h(4))
        pw2 = make(conn, "PW2", h(0), category="pothole")
        status(conn, pw2, "in_progress", h(2))
        status(conn, pw2, "resolved", h(10))
        service.add_comment(conn, pw2, {"body": "not fixed", "author": {"email": "r@example.org"}}, actor=AGENT,
                            now=h(11), from_requester=True)  # fmt: skip
        status(conn, pw2, "resolved", h(12))
        pw3 = make(conn, "PW3", h(0), category="pothole")
        status(conn, pw3, "in_progress", h(3))
        w1 = make(conn, "Flooding in the basement", h(0))
        status(conn, w1, "in_progress", h(0.25))
        status(conn, w1, "resolved", h(2))
        survey.record(conn, w1, 4, "quick", h(3))
        onboarding = make(conn, "Onboarding: Kim", h(0), type="onboarding")
        status(conn, onboarding, "resolved", h(48))
    return hub


def report(hub, by: str = "queue"):
    with read(hub.engine) as conn:
        return performance(conn, hub.config.desk, T0, T0 + timedelta(days=7), by)


def test_per_queue_numbers(hub):
    rows = {r["group"]: r for r in report(hub).rows}
    pw = rows["public-works"]
    assert (pw["volume"], pw["backlog"]) == (3, 2)  # the old ticket is backlog, not volume
    assert (pw["first_response_p50_h"], pw["first_response_p90_h"]) == (2.0, 2.8)
    assert (pw["resolution_p50_h"], pw["resolution_p90_h"]) == (7.5, 10.3)  # PW2: 10h + 1h after reopening
    assert pw["first_response_attainment"] == 0.6667 and pw["resolution_attainment"] == 0.5
    assert pw["reopen_rate"] == 0.5 and pw["satisfaction"] is None
    water = rows["water"]
    assert (water["volume"], water["backlog"], water["first_response_p50_h"], water["resolution_p50_h"]) == (
        1, 0, 0.25, 2.0)  # fmt: skip
    assert water["resolution_attainment"] == 1.0 and (water["satisfaction"], water["satisfaction_answers"]) == (4.0, 1)
    assert rows["triage"]["onboarding_lead_p50_h"] == 48.0


def test_per_department_and_channel_and_total(hub):
    result = report(hub, "department")
    assert {r["group"]: r["volume"] for r in result.rows} == {"(none)": 1, "Public Works": 3, "Utilities": 1}
    assert result.total["volume"] == 5 and result.total["backlog"] == 2
    assert {r["group"]: r["volume"] for r in report(hub, "channel").rows} == {"api": 5}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("by", ["queue", "department"])
def test_a_report_read_in_parts_at_once_is_the_same_report(hub, monkeypatch, parts, by):
    """SQLite reads a wide period of many tickets in ranges of the table at once, each on its own
    connection, and the backlog beside them; the numbers are those of one pass."""
    whole = report(hub, by)
    monkeypatch.setattr(performance_module, "SPLIT_AT", 1)
    monkeypatch.setattr(performance_module, "PARTS", parts)
    threads: list[str] = []
    real_pass = performance_module._grouped_pass

    def grouped_pass(conn, **kwargs):
        threads.append(threading.current_thread().name)
        return real_pass(conn, **kwargs)

    monkeypatch.setattr(performance_module, "_grouped_pass", grouped_pass)
    split = report(hub, by)
    assert len(threads) == parts and all(name.startswith("hub-report") for name in threads)  # not this thread
    assert (split.rows, split.total) == (whole.rows, whole.total)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_backlog_is_the_same_through_the_index_or_a_scan(hub):
    g = performance_module.group_column(hub.config.desk, "queue").label("g")
    with read(hub.engine) as conn:
        for end in (h(-24 * 41), h(-1), h(2), h(4), h(11), h(24 * 30)):  # h(2), h(4): finish times
            by_index = performance_module._backlog(conn, g, end)  # no total: the index-range counts
            by_scan = performance_module._backlog(conn, g, end, total=1)  # everything looks wide
            assert {k: v for k, v in by_index.items() if v} == by_scan, end


@pytest.mark.parametrize("values", [[5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 7.0], [1.0, 9.0], [2.5], list(range(101))])
def test_percentiles_interpolate_like_percentile_cont(values):
    ordered = sorted(map(float, values))
    expected = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    assert percentiles.interpolate(ordered, 0.5) == pytest.approx(statistics.median(ordered))
    assert percentiles.interpolate(ordered, 0.9) == pytest.approx(expected)
    assert percentiles.interpolate([], 0.5) is None


@pytest.mark.parametrize("seed", range(20))
def test_percentiles_of_sorted_runs_equal_those_of_the_merged_list(seed):
    rng = random.Random(seed)
    runs = [sorted(rng.randrange(-5, 10 ** rng.randrange(1, 9)) for _ in range(rng.randrange(0, 40)))
            for _ in range(rng.randrange(1, 6))]  # fmt: skip
    merged = sorted(value for run in runs for value in run)
    for q in (0.0, 0.1, 0.5, 0.9, 1.0):
        assert percentiles.interpolate_runs(runs, q) == pytest.approx(percentiles.interpolate(merged, q)), q


def test_cli_report_and_chart(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", hub.engine.url.render_as_string(hide_password=False))
    out = tmp_path / "chart.png"
    args = ["--config", str(hub.config.path), "report", "--from", "2026-11-02", "--to", "2026-11-09", "--csv",
            "--chart", str(out)]  # fmt: skip
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert run_cli(args) == 0
    table = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [r["group"] for r in table] == ["public-works", "triage", "water", "TOTAL"]
    assert table[0]["resolution_p90_h"] == "10.3"
    assert out.read_bytes().startswith(b"\x89PNG")


def test_api_needs_a_token_and_serves_json_csv_and_charts(hub):
    client = create_app(hub=hub).test_client()
    url = "/api/v1/reports/performance?from=2026-11-02&to=2026-11-09&by=department"
    assert client.get(url).status_code == 401
    with write(hub.engine) as conn:
        for name, scopes in (("ops", ["reports:read"]), ("other", ["tickets:read"])):
            token_hash = hashlib.sha256(f"hub_{name}".encode()).hexdigest()
            conn.execute(insert(api_tokens).values(name=name, token_hash=token_hash, scopes=scopes,
                                                   created_at=T0))  # fmt: skip
    assert client.get(url, headers={"Authorization": "Bearer hub_other"}).status_code == 403
    auth = {"Authorization": "Bearer hub_ops"}
    doc = client.get(url, headers=auth).get_json()
    assert doc["group_by"] == "department" and doc["total"]["volume"] == 5
    text = client.get(url, headers={**auth, "Accept": "text/csv"})
    assert text.mimetype == "text/csv" and text.get_data(as_text=True).startswith("group,volume,backlog")
    svg = client.get(url.replace("performance?", "performance/chart.svg?") + "&kind=sla", headers=auth)
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    bad = client.get("/api/v1/reports/performance?by=planet", headers=auth)
    assert bad.status_code == 400 and "cannot group by" in bad.get_json()["detail"]


def test_chart_kinds_are_checked():
    with pytest.raises(ValueError, match="no chart"):
        charts.chart(None, "pie")  # type: ignore[arg-type]
