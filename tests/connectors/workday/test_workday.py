"""Workday RaaS reports (faked with responses, in the report's JSON shape) become person events:
baseline first, then hires, future-dated terminations, date changes, rescinded hires, rehires and
moves, each once."""

from __future__ import annotations

import pytest
import responses
from sqlalchemy import select

from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain
from hub.store.db import read
from hub.store.tables import inbox, tickets

URL = "https://wd2-impl-services1.workday.com/ccx/service/customreport2/springfield/ISU_HR/Workers_for_IT"
CONFIG = f"""
hub: {{data_dir: {{data_dir}}}}
instances:
  - id: workday
    connector: workday
    schedule: {{every: 15m}}
    settings:
      url: {URL}
      username: ISU_HR
      password: ${{WORKDAY_TEST_PASSWORD}}
      timezone: America/Chicago
"""


def worker(eid, name, hire, term=None, department="Finance", **extra):
    entry = {
        "Employee_ID": eid,
        "Worker": name,
        "First_Name": name.split()[0],
        "Last_Name": name.split()[-1],
        "Email_Address": f"{name.split()[0].lower()}@springfield.gov",
        "Supervisory_Organization": department,
        "Job_Title": "Clerk",
        "Location": "City Hall",
        "Manager_Employee_ID": "10001",
        "Hire_Date": hire,
        **extra,
    }
    if term:
        entry["Termination_Date"] = term
    return entry


class Report:
    def __init__(self, rsps):
        self.entries = []
        self.auth = []
        rsps.add_callback("GET", URL, callback=self.answer)

    def answer(self, request):
        import json

        self.auth.append(request.headers.get("Authorization"))
        assert "format=json" in request.url
        return 200, {"Content-Type": "application/json"}, json.dumps({"Report_Entry": self.entries})


@pytest.fixture
def wd(make_hub, monkeypatch, fake_clock):
    monkeypatch.setenv("WORKDAY_TEST_PASSWORD", "pw-123")
    with responses.RequestsMock() as rsps:
        report = Report(rsps)
        hub = make_hub(CONFIG)

        def poll():
            result = poll_instance(hub, "workday")
            assert result.error is None, result.error
            drain(hub)
            with read(hub.engine) as conn:
                rows = conn.execute(select(tickets).order_by(tickets.c.id)).all()
            return [(t.type, t.attributes["person"]["employee_id"], t.attributes["effective_at"]) for t in rows]

        yield report, poll, hub


def test_first_poll_is_a_baseline_except_future_dates(wd):
    report, poll, _hub = wd
    report.entries = [
        worker("100", "Ann Lee", "2019-03-04"),
        worker("101", "Bob Ray", "2026-12-07"),  # starts after "today" (2026-11-27)
        worker("102", "Cy Fox", "2015-01-05", term="2026-12-04"),
        worker("103", "Di Ng", "2010-01-05", term="2026-01-10"),  # long gone
    ]
    assert poll() == [
        ("onboarding", "101", "2026-12-07T14:00:00Z"),  # 08:00 in Chicago
        ("offboarding", "102", "2026-12-04T23:00:00Z"),  # 17:00 in Chicago
    ]
    assert report.auth[0].startswith("Basic ")
    assert poll() == poll()  # nothing changed: nothing new
    with read(_hub.engine) as conn:
        assert len(conn.execute(select(inbox)).all()) == 2


def test_changes_between_polls(wd, fake_clock):
    report, poll, _hub = wd
    report.entries = [worker("100", "Ann Lee", "2019-03-04"), worker("101", "Bob Ray", "2026-12-07")]
    poll()
    report.entries = [
        worker("100", "Ann Lee", "2019-03-04", department="Water"),  # a move
        worker("101", "Bob Ray", "2026-12-14"),  # the start moved a week
        worker("104", "Eve Oak", "2026-11-30"),  # a new hire
    ]
    found = poll()
    assert ("transfer", "100", "2026-11-27T15:00:00Z") in found
    assert ("onboarding", "104", "2026-11-30T14:00:00Z") in found
    # the moved start date is a joiner with the new date: without templates, a second ticket
    assert ("onboarding", "101", "2026-12-14T14:00:00Z") in found

    report.entries = [
        worker("100", "Ann Lee", "2019-03-04", department="Water", term="2026-12-31"),
        worker("104", "Eve Oak", "2026-11-30"),
    ]  # Bob's hire was rescinded: he is gone from the report
    found = poll()
    assert ("offboarding", "100", "2026-12-31T23:00:00Z") in found
    with read(_hub.engine) as conn:
        bodies = [bytes(r.body) for r in conn.execute(select(inbox).order_by(inbox.c.id)).all()]
    assert any(b'"rescinded":true' in b and b'"101"' in b for b in bodies)

    report.entries = [
        worker("100", "Ann Lee", "2027-06-01", department="Water", term="2026-12-31"),  # rehired
        worker("104", "Eve Oak", "2026-11-30"),
    ]
    found = poll()
    assert ("onboarding", "100", "2027-06-01T13:00:00Z") in found  # CDT in June


def test_a_report_without_entries_is_a_configuration_error(wd):
    report, _poll, hub = wd
    report.entries = None
    result = poll_instance(hub, "workday")
    assert result.error and "Report_Entry" in result.error
