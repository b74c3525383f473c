"""Benchmark 3: a 10,000-message mailbox in a real Dovecot (the test suite's generated-config
server) to tickets, against fetching and parsing the same messages with no hub logic."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from typing import Any

import yaml
from imapclient import IMAPClient
from sqlalchemy import func, select

from bench.env import BenchHub, bench_hub
from bench.stats import Results
from hub.store.db import make_engine
from hub.store.tables import inbox, tickets


def message(i: int) -> bytes:
    return (
        f"From: Resident {i} <resident{i}@example.org>\r\n"
        f"To: helpdesk@city.example.gov\r\n"
        f"Subject: Request number {i}: water leak on {i % 900} Oak Ave\r\n"
        f"Date: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello,\r\n\r\nthere is water coming up through the pavement in front of {i % 900} Oak Ave "
        f"since this morning. Please send someone.\r\n\r\nThanks,\r\nResident {i}\r\n"
    ).encode()


@contextmanager
def mailbox(count: int) -> Iterator[tuple[Any, str]]:
    """(Dovecot, user) with `count` messages in INBOX."""
    from tests.connectors.email.servers import Dovecot

    server = Dovecot(mail_format="mbox")
    try:
        user = server.new_user()
        server.write_mbox(user, [message(i) for i in range(count)])
        assert len(server.uids(user)) == count
        yield server, user
    finally:
        server.stop()


def mail_instance(server: Any, user: str, schedule: str | None = None) -> str:
    from tests.connectors.email.conftest import settings_for

    doc: dict[str, Any] = {
        "id": "mail",
        "connector": "email",
        "settings": settings_for(server, user, None, imap={"batch_size": 200}),
    }
    if schedule:
        doc["schedule"] = {"every": schedule}
    return "\n" + yaml.safe_dump([doc], sort_keys=False).replace("\n", "\n  ").join(["  ", ""])


def count_rows(url: str, table: Any) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return n


def hub_to_tickets(hub: BenchHub) -> tuple[float, float]:
    """(seconds to poll everything into the inbox, seconds until every event is a ticket)."""
    os.environ["HUB_DATABASE_URL"] = hub.database_url
    from hub.config import load_config
    from hub.pipeline.poll import poll_instance
    from hub.pipeline.worker import drain
    from hub.runtime import Hub

    h = Hub(load_config(str(hub.config)))
    began = time.perf_counter()
    while poll_instance(h, "mail").received:
        pass
    polled = time.perf_counter() - began
    drain(h)
    total = time.perf_counter() - began
    h.close()
    return polled, total


def fetch_and_parse(server: Any, user: str, batch: int = 200) -> float:
    """The reference: every message fetched over IMAP and parsed to its text body, nothing stored."""
    began = time.perf_counter()
    with server.client(user) as client:
        assert isinstance(client, IMAPClient)
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        for start in range(0, len(uids), batch):
            for data in client.fetch(uids[start : start + batch], ["BODY.PEEK[]"]).values():
                msg = message_from_bytes(data[b"BODY[]"], policy=policy.default)
                body = msg.get_body(("plain", "html"))
                assert body is not None
                body.get_content()
    return time.perf_counter() - began


def run(quick: bool = False) -> Results:
    count = 2_000 if quick else 10_000
    results = Results(f"email ({count:,}-message mailbox, Dovecot mbox, SQLite)")
    try:
        with mailbox(count) as (server, user):
            for _ in range(2 if quick else 3):
                results.series_for("reference fetch+parse", "s").add(fetch_and_parse(server, user))
                with bench_hub("sqlite", extra_instances=mail_instance(server, user)) as hub:
                    polled, total = hub_to_tickets(hub)
                    made = count_rows(hub.database_url, tickets)
                    stored = count_rows(hub.database_url, inbox)
                results.series_for("hub poll into inbox", "s").add(polled)
                results.series_for("hub mailbox to tickets", "s").add(total)
                if made != count or stored != count:
                    results.notes.append(f"expected {count} tickets, got {made} (inbox {stored})")
    except RuntimeError as exc:
        results.notes.append(f"skipped: {exc}")
        return results
    results.ratio("hub to tickets / reference", "hub mailbox to tickets", "reference fetch+parse")
    return results
