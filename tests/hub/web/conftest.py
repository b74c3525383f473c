"""Fixtures for the web tests: an app over the `engine` fixture's database, signed requests, tokens."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.app import close_app, create_app
from hub.runtime import Hub
from hub.store.db import read, write
from hub.store.tables import inbox, tickets
from hub.web import tokens
from hub.web.verify import build_verifier

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HMAC_SECRET = "github-style-shared-secret"
SHARED_TOKEN = "s3cr3t-static-token-value"

WEB_CONFIG = """
hub:
  data_dir: {data_dir}
  web: {max_body_bytes: 4096}
instances:
  - id: intake
    connector: webhook
    verify: {scheme: standard_webhooks, secret: "${TEST_INTAKE_SECRET}"}
    defaults: {channel: phone, queue: triage}
    mapping:
      external_id: /ref
      event: {path: /event, map: {note: ticket.comment}, map_default: ticket.create, default: ticket.create}
      fields:
        ticket.create:
          title: {path: /title, required: true}
          priority: {path: /urgency, map: {P1: urgent, P2: high}, map_default: normal}
          requester.email: /email
        ticket.comment:
          body: /text
  - id: github
    connector: webhook
    verify: {scheme: hmac_sha256, secret: "${TEST_HMAC_SECRET}", header: X-Hub-Signature-256, prefix: "sha256="}
    settings: {dedup_header: X-GitHub-Delivery}
    mapping:
      fields: {ticket.create: {title: /title}}
  - id: form
    connector: webhook
    verify: {scheme: token, secret: "${TEST_FORM_TOKEN}"}
    mapping:
      dedup_key: /form_id
      fields: {ticket.create: {title: /title}}
  - id: unsigned
    connector: webhook
    mapping:
      fields: {ticket.create: {title: /title}}
  - id: src
    connector: memory
    schedule: {every: 1m}
"""


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets reach the config the only way they may: through ${ENV} references."""
    monkeypatch.setenv("TEST_INTAKE_SECRET", SECRET)
    monkeypatch.setenv("TEST_HMAC_SECRET", HMAC_SECRET)
    monkeypatch.setenv("TEST_FORM_TOKEN", SHARED_TOKEN)


@pytest.fixture
def web_hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub(WEB_CONFIG)


@pytest.fixture
def app(web_hub: Hub) -> Iterator[Flask]:
    flask_app = create_app(hub=web_hub)
    yield flask_app
    close_app(flask_app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def signed(payload: Any, instance_verify: dict[str, Any] | None = None, **sign: Any) -> tuple[bytes, dict[str, str]]:
    """A JSON body and the headers that sign it (Standard Webhooks with SECRET by default)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    verifier = build_verifier(instance_verify or {"scheme": "standard_webhooks", "secret": SECRET})
    return body, {"Content-Type": "application/json", **verifier.sign(body, **sign)}


def inbox_count(hub: Hub) -> int:
    with read(hub.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


def ticket_count(hub: Hub) -> int:
    with read(hub.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(tickets)).scalar_one())


@pytest.fixture
def make_token(web_hub: Hub) -> Callable[..., dict[str, str]]:
    """Create a token with the given scopes; returns the Authorization header for it."""

    def create(*scopes: str, name: str = "tester") -> dict[str, str]:
        with write(web_hub.engine) as conn:
            _id, plaintext = tokens.create(conn, name, list(scopes))
        return {"Authorization": f"Bearer {plaintext}"}

    return create
