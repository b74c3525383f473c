"""A 10,000-message mailbox: every message lands in the inbox exactly once, also when the
polling process is killed (SIGKILL) in the middle and a new one resumes from the stored cursor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import yaml
from sqlalchemy import func, select

from hub.config import load_config
from hub.pipeline import state
from hub.pipeline.poll import poll_instance
from hub.runtime import Hub
from hub.store.db import read
from hub.store.migrate import upgrade
from hub.store.tables import inbox
from tests.connectors.email.conftest import settings_for
from tests.connectors.email.servers import Dovecot

COUNT = 10_000


def message(i: int) -> bytes:
    return (
        f"From: Resident {i} <resident{i}@example.org>\r\n"
        f"To: helpdesk@city.example.gov\r\n"
        f"Subject: Request number {i}\r\n"
        f"Date: Fri, 27 Nov 2026 15:00:00 +0000\r\n"  # all in the same second
        f"Message-ID: <bulk-{i}@example.org>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Please help with item {i}.\r\n"
    ).encode()


def stored(hub: Hub) -> int:
    with read(hub.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


@pytest.fixture(scope="module")
def mbox_dovecot(dovecot: Dovecot) -> Iterator[Dovecot]:
    """A second Dovecot storing mail as mbox: one file holds the whole big mailbox."""
    server = Dovecot(mail_format="mbox")
    yield server
    server.stop()


def test_ten_thousand_messages_killed_mid_poll_lose_and_duplicate_nothing(mbox_dovecot, tmp_path):
    dovecot = mbox_dovecot
    user = dovecot.new_user()
    dovecot.write_mbox(user, [message(i) for i in range(COUNT)])
    assert len(dovecot.uids(user)) == COUNT  # Dovecot has indexed them
    config = tmp_path / "hub.yaml"
    doc = {
        "hub": {"data_dir": str(tmp_path / "var"), "database_url": f"sqlite:///{tmp_path / 'hub.db'}"},
        "instances": [
            {
                "id": "mail",
                "connector": "email",
                "settings": settings_for(dovecot, user, None, imap={"batch_size": 100}),
            }
        ],
    }
    config.write_text(yaml.safe_dump(doc))
    hub = Hub(load_config(config))
    upgrade(hub.engine)

    poller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from hub.cli import main; main()",
            "--config",
            str(config),
            "connectors",
            "poll",
            "mail",
            "--no-process",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while stored(hub) < 1000 and poller.poll() is None:
            time.sleep(0.01)
        if poller.poll() is None:
            os.kill(poller.pid, signal.SIGKILL)
    finally:
        poller.wait()
    assert poller.returncode == -signal.SIGKILL, poller.stderr.read().decode()[-2000:] if poller.stderr else ""
    killed_at = stored(hub)
    assert 1000 <= killed_at < COUNT

    # The cursor was committed with exactly the messages it covers.
    with read(hub.engine) as conn:
        cursor = state.load_cursor(conn, "mail")
        uids = [int(h["x-imap-uid"]) for (h,) in conn.execute(select(inbox.c.headers)).all()]
    assert cursor["folders"]["INBOX"]["uid"] == max(uids)
    assert len(uids) == len(set(uids))

    report = poll_instance(hub, "mail")
    assert report.error is None
    assert (report.received, report.duplicates) == (COUNT - killed_at, 0)
    with read(hub.engine) as conn:
        keys = [k for (k,) in conn.execute(select(inbox.c.dedup_key)).all()]
    assert len(keys) == COUNT
    assert {k.split("|")[0] for k in keys} == {f"<bulk-{i}@example.org>" for i in range(COUNT)}
    assert poll_instance(hub, "mail").received == 0
    hub.close()
