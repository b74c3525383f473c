"""Throw-away hubs for benchmarks: a temp directory with a config, a migrated database (SQLite
file, or a private PostgreSQL schema dropped afterwards) and a Standard Webhooks secret."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from hub.store.db import make_engine
from hub.web.verify import new_whsec

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("HUB_BENCH_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")

# The example config's phone/IVR intake mapping: creates, notes (comments) and status changes.
INTAKE_INSTANCE = """
  - id: intake
    connector: webhook
    verify: {scheme: standard_webhooks, secret: "${HUB_INTAKE_SECRET}"}
    defaults: {channel: phone, type: citizen_request}
    mapping:
      external_id: /request/reference
      occurred_at: /request/received_at
      event:
        path: /event
        map: {request.created: ticket.create, request.note: ticket.comment, request.status: ticket.status}
        map_default: ticket.create
      fields:
        ticket.create:
          title: {template: "{request.category}: {request.summary}"}
          description: /request/description
          category: {path: /request/category, as: lower}
          queue:
            path: /request/department
            map: {"Public Works": public-works, Parks: parks, Water: water}
            map_default: triage
          priority:
            path: /request/urgency
            map: {emergency: urgent, high: high, routine: normal, low: low}
            default: normal
          requester.name: /caller/name
          requester.phone: /caller/callback_number
          requester.email: /caller/email
          requester.kind: {const: citizen}
          location.address: /request/address
          attributes.ivr_call_id: /call/id
          attributes.language: /call/language
        ticket.comment:
          body: /note/text
          public: {const: true}
          author.name: /caller/name
        ticket.status:
          status: {path: /status, map: {open: in_progress, done: resolved, closed: closed}}
          note: /note/text
"""


@dataclass
class BenchHub:
    directory: Path
    config: Path
    database_url: str
    secret: str

    def env(self) -> dict[str, str]:
        """Environment for a `hub` / gunicorn subprocess serving this hub."""
        return {
            **os.environ,
            "HUB_CONFIG": str(self.config),
            "HUB_DATABASE_URL": self.database_url,
            "HUB_INTAKE_SECRET": self.secret,
        }


def pg_available() -> str | None:
    """None when the benchmark PostgreSQL answers, else why not."""
    try:
        engine = make_engine(PG_URL, pool_size=1)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}"


@contextmanager
def bench_hub(backend: str = "sqlite", extra_instances: str = "", worker: str = "") -> Iterator[BenchHub]:
    """A migrated, empty hub; everything it made is removed on exit."""
    directory = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    schema = None
    if backend == "postgresql":
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_URL, pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{directory / 'hub.db'}"
    config = directory / "hub.yaml"
    config.write_text(
        "hub:\n  data_dir: .\n  ticket_prefix: REQ\n  log_level: WARNING\n"
        + (f"  worker: {{{worker}}}\n" if worker else "")
        + "instances:\n"
        + INTAKE_INSTANCE
        + extra_instances
    )
    secret = new_whsec()
    os.environ["HUB_INTAKE_SECRET"] = secret
    from hub.store.migrate import upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    try:
        yield BenchHub(directory, config, url, secret)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
