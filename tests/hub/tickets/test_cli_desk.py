"""`hub sla check` and `hub tickets link` as an admin runs them."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.app import create_app
from hub.cli import run_cli
from tests.hub.tickets.conftest import Feed


def test_sla_check_and_status_link_from_the_shell(desk_hub, fake_clock, monkeypatch, capsys):
    hub = desk_hub()
    ticket = Feed(hub)({"title": "Broken bench"})
    monkeypatch.setenv("HUB_DATABASE_URL", hub.engine.url.render_as_string(hide_password=False))
    config = ["--config", str(hub.config.path)]
    fake_clock.current = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # first response due (4 business hours)
    assert run_cli([*config, "sla", "check"]) == 0
    assert "checked 1 ticket(s): 0 warning(s), 1 breach(es)" in capsys.readouterr().out
    assert run_cli([*config, "tickets", "link", ticket["number"]]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://desk.city.gov/status/")
    page = create_app(hub=hub).test_client().get(url.removeprefix("https://desk.city.gov"))
    assert page.status_code == 200 and ticket["number"] in page.get_data(as_text=True)
    assert run_cli([*config, "tickets", "link", "REQ-1999-000001"]) == 1
