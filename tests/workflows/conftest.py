"""An HR instance (the in-memory reference connector emitting person events), the Microsoft 365
connector over the fake Graph directory, and workflow templates in the config's workflows/."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub import clock
from hub.outbox.dispatcher import dispatch_due
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain
from hub.runtime import Hub
from hub.store.db import read
from hub.store.tables import outbox, tickets, workflow_tasks, workflows
from tests import reference_connector
from tests.connectors.m365.conftest import TENANT, fake  # noqa: F401  (fixture reused)
from tests.connectors.m365.test_users import FINANCE, Directory

TEMPLATES = f"""
templates:
  - name: onboarding
    event: joiner
    title: "Onboarding: {{name}} ({{effective_date}})"
    queue: hr
    tasks:
      - key: account
        title: "Microsoft 365 account for {{name}}"
        queue: it
        due: -1d
        run:
          instance: m365
          action: create_user
          at: -2d
          params:
            user_principal_name: "{{email}}"
            display_name: "{{name}}"
            employee_id: "{{employee_id}}"
            department: "{{department}}"
      - key: groups
        title: "Finance groups for {{name}}"
        queue: it
        after: [account]
        when: {{department: Finance}}
        run: {{instance: m365, action: add_to_groups, params: {{user: "{{email}}", groups: [{FINANCE}]}}}}
      - key: desk
        title: "Desk and badge for {{name}}"
        queue: facilities
  - name: offboarding
    event: leaver
    title: "Offboarding: {{name}} ({{effective_date}})"
    queue: hr
    tasks:
      - key: disable
        title: "Disable the account of {{name}}"
        queue: it
        run: {{instance: m365, action: disable_user, params: {{user: "{{email}}"}}}}
      - key: sessions
        title: "Sign {{name}} out everywhere"
        queue: it
        after: [disable]
        run:
          instance: m365
          action: revoke_sessions
          params: {{user: "{{email}}", requested_at: "{{effective_at}}"}}
      - key: badge
        title: "Collect badge and laptop from {{name}}"
        queue: facilities
"""

CONFIG = f"""
hub:
  data_dir: {{data_dir}}
  hr: {{drift: {{directory: m365, queue: it-security, ignore: ["^svc-"]}}}}
instances:
  - id: hr
    connector: memory
  - id: entra
    connector: scim
    settings: {{token: entra-provisioning-token-0123}}
  - id: m365
    connector: m365
    settings:
      tenant_id: {TENANT}
      client_id: 24d3b144-21ae-4080-943f-7067b395b913
      client_secret: s3cret-value
      mail: {{mailbox: servicedesk@contoso.gov}}
      users: {{password_delivery: {{address: it-desk@contoso.gov}}}}
"""

SAM = {
    "employee_id": "E100",
    "name": "Sam Doe",
    "given_name": "Sam",
    "family_name": "Doe",
    "email": "sam.doe@contoso.gov",
    "department": "Finance",
    "job_title": "Accountant",
}


@dataclass
class Desk:
    """The hub under test plus helpers to feed HR events and run the outbox."""

    hub: Hub
    directory: Directory
    keys: Any
    graph: Any

    def hr(self, kind: str, effective_at: str, person: dict[str, Any] | None = None, **extra: Any) -> None:
        data = {"person": person or SAM, "effective_at": effective_at, **extra}
        item = {"key": f"ev-{next(self.keys)}", "type": f"person.{kind}", "data": data}
        reference_connector.SOURCES["hr"].append(item)
        poll_instance(self.hub, "hr")
        drain(self.hub)

    def dispatch(self) -> int:
        sent = 0
        for _ in range(10):  # a finished step may queue the next one at once
            report = dispatch_due(self.hub)
            sent += report.sent + report.dead
            if not report.sent and not report.dead:
                break
        return sent

    def rows(self, table: Any, *where: Any) -> list[Any]:
        with read(self.hub.engine) as conn:
            return list(conn.execute(select(table).where(*where).order_by(table.c.id)).all())

    def workflows(self) -> list[Any]:
        return self.rows(workflows)

    def children(self, parent_id: int) -> dict[str, Any]:
        found = self.rows(tickets, tickets.c.parent_id == parent_id)
        return {t.attributes["task"]: t for t in found}

    def ticket(self, ticket_id: int) -> Any:
        return self.rows(tickets, tickets.c.id == ticket_id)[0]

    def tasks(self, workflow_id: int) -> dict[str, Any]:
        return {t.key: t for t in self.rows(workflow_tasks, workflow_tasks.c.workflow_id == workflow_id)}

    def outbox(self) -> list[Any]:
        return self.rows(outbox)


def at(text: str) -> datetime:
    return clock.parse(text)


@pytest.fixture
def desk(make_hub: Callable[..., Hub], tmp_path: Path, fake, fake_clock) -> Desk:  # noqa: F811
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "people.yaml").write_text(textwrap.dedent(TEMPLATES))
    hub = make_hub(CONFIG)
    return Desk(hub, Directory(fake), count(1), fake)


__all__ = ["SAM", "Desk", "at", "json"]
