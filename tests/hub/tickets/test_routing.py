"""Routing rules: what admins write, what they are told when it is wrong, what a ticket gets."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime

import pytest

from hub.cli import run_cli
from hub.config import ConfigError, load_config
from hub.store.db import read
from hub.tickets import queries
from hub.tickets.routing import Candidate, route
from tests.hub.tickets.conftest import DESK_CONFIG, ROUTING, Feed


def desk_of(tmp_path, routing: str):
    (tmp_path / "routing.yaml").write_text(textwrap.dedent(routing))
    config = DESK_CONFIG.replace("{extra}", "").replace("{secret}", "x").replace("{data_dir}", str(tmp_path))
    (tmp_path / "hub.yaml").write_text(config)
    return load_config(tmp_path / "hub.yaml").desk


def problems(tmp_path, routing: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        desk_of(tmp_path, routing)
    return info.value.problems


def test_errors_name_the_file_the_rule_and_the_field(tmp_path):
    found = problems(
        tmp_path,
        """
        triage_queue: triage
        calendars: {city: {timezone: America/Chicago, hours: {mon-fri: ["08:00-17:00"]}}}
        rules:
          - {name: ok, when: {channel: phone}, set: {queue: a}}
          - {name: shouty, when: {channel: phone}, set: {priority: extreme}}
          - {name: typo, when: {chanel: phone}, set: {queue: b}}
    """,
    )
    file = str(tmp_path / "routing.yaml")
    assert any(p.startswith(f"{file}: rules[1] (name 'shouty'): set.priority:") and "extreme" in p for p in found)
    assert any(p.startswith(f"{file}: rules[2] (name 'typo'): when:") and "chanel" in p for p in found)


def test_references_are_checked_after_the_shape(tmp_path):
    found = problems(
        tmp_path,
        """
        triage_queue: triage
        calendars:
          city: {timezone: Mars/Base, hours: {mon-fri: ["08:00-17:00"]}}
          ok: {timezone: UTC, hours: {mon: ["08:00-12:00", "11:00-13:00"]}}
        sla: {policies: [{name: p, calendar: nowhere, targets: {low: {resolution: 8h}}}]}
        queues: {pw: {notify: {instance: ghost, to: [a@b.c]}}}
        rules:
          - {name: r1, when: {time: {calendar: nope, working_hours: true}}, set: {queue: a}}
          - {name: r2, set: {sla: missing}}
          - {name: r2, set: {queue: c}}
    """,
    )
    text = "\n".join(found)
    for expected in (
        "calendars.city.timezone: unknown time zone 'Mars/Base'",
        "calendars.ok.hours.mon: time ranges overlap",
        "sla.policies[0] (name 'p'): calendar: no calendar 'nowhere'",
        "queues.pw.notify.instance: no instance 'ghost'",
        "rules[0] (name 'r1'): when.time.calendar: no calendar 'nope'",
        "rules[1] (name 'r2'): set.sla: no SLA policy 'missing'",
        "rules: the name 'r2' is used twice",
    ):
        assert expected in text, expected


def test_a_missing_or_broken_routing_file_is_reported(tmp_path):
    (tmp_path / "hub.yaml").write_text("instances: []\ndesk: {routing: nowhere.yaml}\n")
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read"):
        load_config(tmp_path / "hub.yaml")
    assert "not valid YAML" in problems(tmp_path, "rules: [\n")[0]


def candidate(data, *, channel="email", instance="mail", at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC)):
    return Candidate(dict(data), instance, channel, at)


def test_first_decisive_match_wins_continue_rules_only_add_and_unmatched_goes_to_triage(tmp_path):
    desk = desk_of(
        tmp_path,
        """
        triage_queue: triage
        calendars: {city: {timezone: America/Chicago, hours: {mon-fri: ["08:00-17:00"]}}}
        rules:
          - {name: after-hours, when: {time: {calendar: city, working_hours: false}}, set: {tags: [after-hours]},
             continue: true}
          - {name: staff-it, when: {requester_domain: city.gov, keywords: [password, "vpn access"]},
             set: {queue: it, assignee: helpdesk@city.gov}}
          - {name: parks, when: {any: [{category: "park*"}, {service_code: PRK-01}], not: {priority: urgent}},
             set: {queue: parks, priority: high}}
          - {name: night, when: {time: {between: "22:00-06:00", timezone: America/Chicago}}, set: {queue: night}}
    """,
    )
    staff = candidate({"title": "Need VPN  access", "requester": {"email": "kim@hr.city.gov"}})
    decision = route(desk.rules, staff, desk.triage_queue)
    assert decision.matched == ["staff-it"] and staff.data["queue"] == "it" and staff.data["status"] == "assigned"
    assert decision.changes["assignee"] == (None, "helpdesk@city.gov")

    not_staff = candidate({"title": "my password", "requester": {"email": "kim@notcity.gov"}})
    assert route(desk.rules, not_staff, desk.triage_queue).triaged and not_staff.data["queue"] == "triage"

    word = candidate({"title": "passwords are hard", "requester": {"email": "kim@city.gov"}})
    assert route(desk.rules, word, desk.triage_queue).triaged  # whole words only

    park = candidate({"title": "x", "attributes": {"service_code": "PRK-01"}})
    assert route(desk.rules, park, desk.triage_queue).matched == ["parks"] and park.data["priority"] == "high"
    urgent_park = candidate({"title": "x", "category": "Parks", "priority": "urgent"})
    assert route(desk.rules, urgent_park, desk.triage_queue).triaged

    late = candidate({"title": "x"}, at=datetime(2026, 12, 1, 5, 0, tzinfo=UTC))  # Monday 23:00 in Chicago
    decision = route(desk.rules, late, desk.triage_queue)
    assert decision.matched == ["after-hours", "night"] and late.data["tags"] == ["after-hours"]
    assert late.data["queue"] == "night"
    weekend_noon = candidate({"title": "x"}, at=datetime(2026, 11, 28, 18, 0, tzinfo=UTC))
    decision = route(desk.rules, weekend_noon, desk.triage_queue)
    assert decision.matched == ["after-hours"] and decision.triaged  # tagged, then triage
    trace = {t.rule: t for t in decision.trace}
    assert "outside working hours of 'city'" in trace["after-hours"].reasons[0]
    assert "12:00 outside 22:00-06:00" in trace["night"].reasons[0]


def test_routing_happens_in_the_pipeline_and_is_in_the_history(desk_hub):
    hub = desk_hub()
    ticket = Feed(hub)({"title": "Pothole", "category": "pothole", "queue": "triage", "priority": "normal"})
    assert ticket["queue"] == "public-works"
    with read(hub.engine) as conn:
        routed = [h for h in queries.history(conn, ticket["id"]) if h["action"] == "routed"]
    assert {h["field"]: (h["old"], h["new"]) for h in routed} == {
        "queue": ("triage", "public-works"),
        "rule": (None, "potholes"),
    }
    assert routed[0]["actor"] == "routing:potholes"


def test_rules_test_explains_a_sample_without_the_database(tmp_path, capsys):
    (tmp_path / "routing.yaml").write_text(textwrap.dedent(ROUTING))
    config = DESK_CONFIG.replace("{extra}", "").replace("{secret}", "x").replace("{data_dir}", str(tmp_path))
    (tmp_path / "hub.yaml").write_text(config)
    event = {"type": "ticket.create", "instance": "src", "occurred_at": "2026-11-28T16:00:00Z",
             "data": {"title": "Flooding on 5th street", "priority": "normal"}}  # fmt: skip
    (tmp_path / "event.json").write_text(json.dumps(event))
    assert run_cli(["--config", str(tmp_path / "hub.yaml"), "rules", "test", str(tmp_path / "event.json")]) == 0
    out = capsys.readouterr().out
    assert "1. water-emergency: MATCH" in out and "keywords: found 'Flooding'" in out
    assert "queue: None -> 'water'" in out and "priority: 'normal' -> 'urgent'" in out
    assert "SLA policy emergency (always): first response due 2026-11-28T16:30:00Z" in out
    assert "rules after it are not evaluated" in out
    config_arg = ["--config", str(tmp_path / "hub.yaml")]
    assert run_cli([*config_arg, "rules", "test", "--json", str(tmp_path / "event.json")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["matched"] == ["water-emergency"] and [r["rule"] for r in doc["rules"]] == ["water-emergency"]
