"""A fake Microsoft Graph and token endpoint (responses), answering with the documented payload
shapes, headers and error bodies. No test reaches Microsoft: responses refuses unknown URLs."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import responses

from connectors.m365 import M365Connector
from connectors.m365.examples import settings as example_settings
from hub.sdk import ConnectorContext
from hub.sdk.http import HttpClient

TENANT = "contoso.onmicrosoft.com"
LOGIN = f"https://login.microsoftonline.com/{TENANT}"
TOKEN_URL = f"{LOGIN}/oauth2/v2.0/token"
GRAPH = "https://graph.microsoft.com/v1.0"
ALL_ROLES = [
    "Mail.Read",
    "Mail.Send",
    "ChannelMessage.Read.All",
    "User.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "LicenseAssignment.ReadWrite.All",
    "User.RevokeSessions.All",
]


def jwt(claims: dict[str, Any]) -> str:
    """An access token shaped like Entra's (header.payload.signature, base64url)."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2ln"


def graph_error(code: str, message: str, status: int = 400) -> dict[str, Any]:
    """Graph's error body: https://learn.microsoft.com/graph/errors"""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": "2026-11-27T15:00:00", "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2"},
        }
    }


THROTTLED = {
    "error": {
        "code": "TooManyRequests",
        "innerError": {
            "code": "429",
            "date": "2020-08-18T12:51:51",
            "message": "Please retry after",
            "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2",
            "status": "429",
        },
        "message": "Please retry again later.",
    }
}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


Reply = tuple[int, Any, dict[str, str]]


@dataclass
class FakeGraph:
    """Routes (method, path regex) to canned replies (used in order, the last one repeats) or to a
    function of (call, match). Every call is recorded."""

    rsps: responses.RequestsMock
    roles: list[str] = field(default_factory=lambda: list(ALL_ROLES))
    token_expires_in: int = 3599
    calls: list[Call] = field(default_factory=list)
    tokens_issued: int = 0
    token_error: dict[str, Any] | None = None
    routes: list[tuple[str, re.Pattern[str], Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rsps.get(
            f"{LOGIN}/v2.0/.well-known/openid-configuration",
            json={
                "token_endpoint": TOKEN_URL,
                "authorization_endpoint": f"{LOGIN}/oauth2/v2.0/authorize",
                "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
            },
        )
        self.rsps.add_callback("POST", TOKEN_URL, callback=self._token)
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            self.rsps.add_callback(method, re.compile(re.escape(GRAPH) + r"/.*"), callback=self._dispatch)

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.token_error is not None:
            return 401, {"Content-Type": "application/json"}, json.dumps(self.token_error)
        self.tokens_issued += 1
        token = jwt({"aud": "https://graph.microsoft.com", "roles": self.roles, "n": self.tokens_issued})
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_expires_in,
            "ext_expires_in": 3599,
            "access_token": token,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def on(self, method: str, pattern: str, *replies: Reply | Callable[..., Reply]) -> None:
        self.routes.insert(0, (method, re.compile(f"^{pattern}$"), list(replies)))

    def _dispatch(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        path = unquote(parts.path)[len("/v1.0/") :]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = json.loads(request.body) if request.body else None
        call = Call(request.method, path, query, body, dict(request.headers))
        self.calls.append(call)
        for method, pattern, replies in self.routes:
            match = pattern.match(path)
            if method == request.method and match:
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                status, doc, headers = reply(call, match) if callable(reply) else reply
                text = "" if doc is None else json.dumps(doc)
                return status, {"Content-Type": "application/json", **headers}, text
        return 404, {}, json.dumps(graph_error("UnknownRoute", f"fake Graph has no route for {request.method} {path}"))

    def made(self, method: str | None = None, path: str = "") -> list[Call]:
        return [c for c in self.calls if (method is None or c.method == method) and path in c.path]

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeGraph(rsps)


@dataclass
class Recorder:
    expiries: dict[str, Any] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_connector(tmp_path: Path, recorder: Recorder) -> Callable[..., M365Connector]:
    """A connector over the fake, with an HttpClient whose sleeps are recorded, not slept."""

    def build(**overrides: Any) -> M365Connector:
        settings = {**example_settings(), **overrides}
        context = ConnectorContext(
            instance_id="m365",
            settings=settings,
            data_dir=tmp_path,
            base_dir=tmp_path,
            http_factory=lambda: HttpClient(sleep=recorder.waits.append, max_retries=5, backoff_base=0.5, max_wait=120),
            report_expiry=lambda kind, at: recorder.expiries.__setitem__(kind, at),
            request_poll=lambda: recorder.requests.append("poll"),
            request_maintenance=lambda: recorder.requests.append("maintenance"),
        )
        return M365Connector(context)

    return build


def hub_config(extra_settings: str = "") -> str:
    """YAML for make_hub: one m365 instance over the fake (secret from the environment)."""
    return f"""
hub: {{data_dir: {{data_dir}}}}
instances:
  - id: m365
    connector: m365
    schedule: {{every: 5m}}
    defaults: {{queue: service-desk}}
    settings:
      tenant_id: {TENANT}
      client_id: 24d3b144-21ae-4080-943f-7067b395b913
      client_secret: ${{M365_TEST_SECRET}}
      mail: {{mailbox: servicedesk@contoso.gov}}
      teams:
        channels:
          - team_id: fbe2bf47-16c8-47cf-b4a5-4b9b187c508b
            channel_id: "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2"
{extra_settings}
"""


@pytest.fixture
def m365_hub(make_hub: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("M365_TEST_SECRET", "s3cret-value")
    monkeypatch.setenv("M365_TEST_STATE", "client-state-0123456789abcdef")

    def build(extra_settings: str = "") -> Any:
        return make_hub(hub_config(extra_settings))

    return build
