"""IMAP login with XOAUTH2 (Exchange Online has no basic auth): the token comes from msal with
client credentials (Microsoft's token endpoint played by `responses`), and a real Dovecot checks
it against an OAuth introspection endpoint run by the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
import responses
import yaml

from hub.pipeline.poll import poll_instance
from tests.connectors.email.mails import mail
from tests.connectors.email.servers import Dovecot, free_port
from tests.connectors.email.test_graph import microsoft

VALID = {"tok-1": None}  # token -> user it belongs to (filled by the test)


class _Introspection(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        token = (form.get("token") or [""])[0]
        user = VALID.get(token)
        body = json.dumps({"active": True, "username": user} if user else {"active": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def introspection() -> Iterator[str]:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Introspection)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/introspect"
    server.shutdown()


@pytest.fixture
def oauth_dovecot(introspection: str) -> Iterator[Dovecot]:
    """A Dovecot per test: the rejected-token test's failed login would slow the next logins."""
    dovecot = Dovecot(introspection_url=introspection)
    yield dovecot
    dovecot.stop()


def config(dovecot: Dovecot, user: str) -> str:
    settings = {
        "address": "helpdesk@city.example.gov",
        "imap": {"host": "127.0.0.1", "port": dovecot.port, "security": "none", "username": user, "auth": "xoauth2"},
        "oauth": {"tenant_id": "contoso-tenant", "client_id": "app-id", "client_secret": "x"},
    }
    return yaml.safe_dump(
        {"hub": {"data_dir": "{data_dir}"}, "instances": [{"id": "mail", "connector": "email", "settings": settings}]}
    )


def test_imap_login_with_an_msal_token(make_hub, oauth_dovecot):
    user = oauth_dovecot.new_user()
    VALID.clear()
    VALID["tok-1"] = user
    oauth_dovecot.append(user, mail("Sent to an Exchange Online mailbox"))
    hub = make_hub(config(oauth_dovecot, user))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        microsoft(rsps)
        report = poll_instance(hub, "mail")
        token_call = next(c for c in rsps.calls if c.request.url.endswith("/token"))
    assert report.error is None and report.received == 1
    assert "scope=https%3A%2F%2Foutlook.office365.com%2F.default" in token_call.request.body


def test_a_token_the_server_rejects_is_a_configuration_error(make_hub, oauth_dovecot):
    user = oauth_dovecot.new_user()
    VALID.clear()  # the server knows no valid token
    hub = make_hub(config(oauth_dovecot, user))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        microsoft(rsps)
        report = poll_instance(hub, "mail")
    assert report.error and report.error.startswith("configuration:") and "login refused" in report.error
