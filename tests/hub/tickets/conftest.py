"""A hub with a desk (routing file, SLA policies, calendars) over each test database, and helpers
that feed tickets through the real pipeline as a connector would."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.pipeline.inbox import receive
from hub.pipeline.worker import drain
from hub.runtime import Hub
from hub.sdk import RawEvent
from hub.store.db import read
from hub.tickets import queries

ROUTING = """
triage_queue: triage
default_calendar: city
calendars:
  city:
    timezone: America/Chicago
    hours: {mon-fri: ["08:00-12:00", "13:00-17:00"]}
    holidays:
      - 2026-11-26
      - {date: 2026-12-24, hours: ["08:00-12:00"]}
  always:
    timezone: America/Chicago
    hours: {mon-sun: ["00:00-24:00"]}
queues:
  public-works: {department: Public Works, notify: {instance: src, to: [pw-lead@city.gov]}}
  water: {department: Utilities}
sla:
  default_policy: standard
  warn_at: 0.8
  policies:
    - name: standard
      calendar: city
      targets:
        normal: {first_response: 4h, resolution: 16h}
        high: {first_response: 1h, resolution: 8h}
    - name: emergency
      calendar: always
      targets:
        urgent: {first_response: 30m, resolution: 4h}
rules:
  - name: water-emergency
    when: {keywords: [water main, flooding]}
    set: {queue: water, priority: urgent, sla: emergency}
  - name: potholes
    when: {category: [pothole]}
    set: {queue: public-works}
"""

DESK_CONFIG = """
hub:
  data_dir: {data_dir}
  timezone: America/Chicago
instances:
  - id: src
    connector: memory
  - id: other
    connector: memory
  - id: hook
    connector: webhook
    mapping:
      fields:
        ticket.create: {title: /data/title, requester.email: /data/email, attributes.callback_url: /data/callback}
    settings:
      callback: {secret: "{secret}", allow_networks: ["127.0.0.0/8"]}
desk:
  routing: routing.yaml
  secret_key: test-secret-key-0123456789
  public_url: https://desk.city.gov
  notifications: {callback_instance: hook}
{extra}
"""
CALLBACK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def desk_hub(make_hub: Callable[..., Hub], tmp_path: Path) -> Callable[..., Hub]:
    """Build a hub whose desk uses ROUTING (or `routing`) and DESK_CONFIG plus `extra` YAML."""

    def build(routing: str = ROUTING, extra: str = "") -> Hub:
        (tmp_path / "routing.yaml").write_text(textwrap.dedent(routing))
        indented = textwrap.indent(textwrap.dedent(extra), "  ")
        return make_hub(DESK_CONFIG.replace("{extra}", indented).replace("{secret}", CALLBACK_SECRET))

    return build


class Feed:
    """Send canonical events through inbox -> worker, as the `memory` connector would."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.count = 0

    def __call__(self, data: dict[str, Any], *, instance: str = "src", **event: Any) -> dict[str, Any] | None:
        self.count += 1
        item = {"key": f"k{self.count}", "data": data, **event}
        receive(self.hub.engine, instance, [RawEvent(item["key"], json.dumps(item).encode())])
        report = drain(self.hub)
        assert report.dead == 0, self.dead_reason()
        return self.ticket() if event.get("type", "ticket.create") == "ticket.create" else None

    def ticket(self, ref: Any = None) -> dict[str, Any]:
        """A ticket by id or number; the newest without `ref`."""
        with read(self.hub.engine) as conn:
            if ref is None:
                return queries.search(conn, limit=1)[0]
            found = queries.get(conn, ref)
            assert found is not None
            return found

    def dead_reason(self) -> str:
        from hub.pipeline.events import listing

        with read(self.hub.engine) as conn:
            return str([e["last_error"] for e in listing(conn, state="dead")])
