"""Fixtures of the email tests: one Dovecot and one SMTP server per session, a fresh mailbox per
test, and a hub whose `mail` instance reads that mailbox and sends through that SMTP server."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from hub.runtime import Hub
from tests.connectors.email.servers import PASSWORD, Dovecot, SmtpServer, dovecot_binary

ADDRESS = "helpdesk@city.example.gov"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        message = "dovecot is not installed (apt-get install dovecot-imapd; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = Dovecot()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _smtp_session() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def smtp(_smtp_session: SmtpServer) -> Iterator[SmtpServer]:
    _smtp_session.reset()
    yield _smtp_session
    _smtp_session.reset()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> str:
    """A fresh, empty mailbox (IMAP user) on the session's Dovecot."""
    return dovecot.new_user()


def settings_for(dovecot: Dovecot, user: str, smtp: SmtpServer | None, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "address": ADDRESS,
        "display_name": "City Help Desk",
        "employee_domains": ["city.example.gov"],
        "imap": {
            "host": "127.0.0.1",
            "port": dovecot.port,
            "security": "none",
            "username": user,
            "password": PASSWORD,
            "batch_size": 50,
        },
        "replies": {"transport": "none"},
    }
    if smtp is not None:
        settings["replies"] = {
            "transport": "smtp",
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "username": "hub",
                "password": PASSWORD,
            },
        }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return settings


def config_text(settings: dict[str, Any], **instance: Any) -> str:
    doc = {
        "hub": {"data_dir": "{data_dir}", "outbox": {"backoff_base": 1, "backoff_max": 2}},
        "instances": [
            {"id": "mail", "connector": "email", "schedule": {"every": "1m"}, "settings": settings, **instance}
        ],
    }
    return yaml.safe_dump(copy.deepcopy(doc), sort_keys=False)


@pytest.fixture
def mail_hub(make_hub: Callable[..., Hub], dovecot: Dovecot, mailbox: str, smtp: SmtpServer) -> Callable[..., Hub]:
    """Build a hub over the test database (SQLite and PostgreSQL) reading `mailbox`."""

    def build(*, send: bool = True, **overrides: Any) -> Hub:
        return make_hub(config_text(settings_for(dovecot, mailbox, smtp if send else None, **overrides)))

    return build
