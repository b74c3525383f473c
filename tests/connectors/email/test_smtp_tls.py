"""SMTP with STARTTLS and implicit TLS to a real aiosmtpd, trusting a private CA."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hub.outbox.dispatcher import dispatch_due
from hub.pipeline.inbox import receive
from hub.pipeline.worker import drain
from hub.sdk import RawEvent
from hub.store.db import read
from hub.store.tables import outbox
from tests.connectors.email.conftest import config_text
from tests.connectors.email.mails import mail
from tests.connectors.email.servers import _Handler, _self_signed, free_port


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


def server(mode: str, context: ssl.SSLContext) -> tuple[Controller, _Handler]:
    handler = _Handler()
    port = free_port()
    if mode == "starttls":
        controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    else:
        controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    return controller, handler


@pytest.fixture(params=["starttls", "tls"])
def tls_server(request, certificate) -> Iterator[tuple[str, int, _Handler, Path]]:
    cert, context = certificate
    controller, handler = server(request.param, context)
    yield request.param, controller.port, handler, cert
    controller.stop()


def hub_sending_to(make_hub, security: str, port: int, ca_file: Path | None):
    smtp = {"host": "127.0.0.1", "port": port, "security": security, "auth": "none"}
    if ca_file:
        smtp["ca_file"] = str(ca_file)
    settings = {"address": "helpdesk@city.example.gov", "replies": {"transport": "smtp", "smtp": smtp}}
    hub = make_hub(config_text(settings))
    receive(hub.engine, "mail", [RawEvent("m1", mail("Over TLS").as_bytes(), {}, "message/rfc822")])
    drain(hub)
    return hub


def test_mail_goes_out_encrypted_to_a_server_signed_by_a_private_ca(make_hub, tls_server):
    security, port, handler, cert = tls_server
    hub = hub_sending_to(make_hub, security, port, cert)
    assert dispatch_due(hub).sent == 1
    (received,) = handler.received
    assert received.rcpt_tos == ["ann@example.org"]


def test_untrusted_certificate_is_not_sent_to(make_hub, tls_server):
    security, port, handler, _cert = tls_server
    hub = hub_sending_to(make_hub, security, port, None)
    assert dispatch_due(hub).dead == 1
    with read(hub.engine) as conn:
        (row,) = conn.execute(select(outbox)).all()
    assert "certificate not trusted" in row.last_error
    assert handler.received == []
