"""No loss, no duplicates under crashes.

A sender floods the webhook endpoint (retrying, like real senders, until it gets a 2xx) and a
finance system keeps dropping export files, while the hub process is SIGKILLed at random moments
and restarted. Afterwards every acknowledged event is exactly one ticket or one comment, every
exported row exactly one ticket, and every ticket's acknowledgement callback (a signed outbound
webhook through the outbox) arrived at least once, always with the same delivery id, so the
receiver applies it once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import func, select

from hub.store.db import make_engine, read
from hub.store.migrate import upgrade
from hub.store.tables import comments, inbox, outbox, ticket_history, ticket_refs, tickets
from tests.conftest import REPO
from tests.hub.web.live import free_port

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

CONFIG = """
hub:
  data_dir: {data_dir}
  worker: {interval: 0.2s}
instances:
  - id: hook
    connector: webhook
    verify: {scheme: token, secret: "${CRASH_TOKEN}"}
    settings:
      callback: {secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", allow_networks: ["127.0.0.0/8"]}
    mapping:
      external_id: /ref
      event: {path: /kind, map: {comment: ticket.comment}, map_default: ticket.create}
      fields:
        ticket.create: {title: /title, attributes.callback_url: /callback}
        ticket.comment: {body: /text}
  - id: drop
    connector: files
    schedule: {every: 1s}
    settings: {directory: drop, pattern: "*.csv"}
    mapping:
      external_id: /ref
      fields: {ticket.create: {title: /title}}
desk:
  secret_key: crash-test-status-link-key
  notifications: {callback_instance: hook}
"""
TOKEN = "crash-test-token-0123456789"


class Receiver:
    """The requester-side system: records every callback delivery by its webhook-id."""

    def __init__(self) -> None:
        deliveries = self.deliveries = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                deliveries.append(self.headers.get("webhook-id"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Sender(threading.Thread):
    """Posts events until each is acknowledged; keeps the acknowledged ones."""

    def __init__(self, port: int, count: int, callback: str) -> None:
        super().__init__(daemon=True)
        self.callback = callback
        self.url = f"http://127.0.0.1:{port}/hooks/hook"
        self.count = count
        self.acked: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        for n in range(self.count):
            if n % 5 == 4 and self.acked:  # every fifth event comments on an acknowledged ticket
                target = random.choice([e for e in self.acked if e["kind"] == "create"])
                event = {"kind": "comment", "ref": target["ref"], "text": f"note {n}", "id": f"msg-{n}"}
            else:
                event = {
                    "kind": "create",
                    "ref": f"W{n}",
                    "title": f"Webhook {n}",
                    "id": f"msg-{n}",
                    "callback": self.callback,
                }
            self._deliver(event)
            if self.stop.is_set():
                return

    def _deliver(self, event: dict) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "webhook-id": event["id"], "Content-Type": "application/json"}
        while not self.stop.is_set():
            try:
                answer = requests.post(self.url, data=json.dumps(event), headers=headers, timeout=5)
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if answer.status_code in (200, 202):
                self.acked.append(event)
                return
            assert answer.status_code in (502, 503), answer.text  # anything else is a bug
            time.sleep(0.05)


def test_kill_9_while_flooding_loses_and_duplicates_nothing(engine, db_url, write_config, tmp_path):
    config = write_config(CONFIG)
    drop = tmp_path / "drop"
    drop.mkdir()
    upgrade(engine)
    port = free_port()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": db_url,
        "HUB_CONFIG": str(config),
        "PYTHONPATH": str(REPO),
        "CRASH_TOKEN": TOKEN,
    }
    log = (tmp_path / "serve.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", str(port)], env=env, stderr=log, stdout=log
        )

    receiver = Receiver()
    sender = Sender(port, count=400, callback=receiver.url)
    rows_written: list[str] = []
    proc = start()
    sender.start()
    try:
        rng = random.Random(7)
        for kill in range(6):
            for f in range(2):  # the finance system drops files meanwhile
                refs = [f"F{kill}-{f}-{r}" for r in range(15)]
                lines = "".join(f"{ref},Row {ref}\n" for ref in refs)
                (drop / f"export-{kill}-{f}.csv").write_text("ref,title\n" + lines)
                rows_written += refs
            time.sleep(rng.uniform(1.5, 3.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start()
        sender.join(timeout=180)
        assert not sender.is_alive(), "the sender never got all its events acknowledged"

        check = make_engine(db_url)

        def settled() -> bool:
            with read(check) as conn:
                waiting = conn.execute(select(func.count()).select_from(inbox).where(inbox.c.state == "received"))
                polled = conn.execute(select(func.count()).select_from(inbox).where(inbox.c.instance == "drop"))
                pending = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.state == "pending"))
                return (
                    waiting.scalar_one() == 0 and polled.scalar_one() == len(rows_written) and pending.scalar_one() == 0
                )

        deadline = time.monotonic() + 120
        while not settled() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert settled(), "the hub did not catch up after the last restart"
    finally:
        sender.stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    creates = [e for e in sender.acked if e["kind"] == "create"]
    notes = [e for e in sender.acked if e["kind"] == "comment"]
    with read(check) as conn:
        assert conn.execute(select(inbox.c.state).where(inbox.c.state == "dead")).all() == []
        refs = dict(
            conn.execute(
                select(ticket_refs.c.key, ticket_refs.c.ticket_id).where(ticket_refs.c.kind == "external")
            ).all()
        )
        assert len(refs) == len(creates) + len(rows_written)
        assert {e["ref"] for e in creates} | set(rows_written) == set(refs)
        assert conn.execute(select(func.count()).select_from(tickets)).scalar_one() == len(refs)
        created = select(func.count()).select_from(ticket_history).where(ticket_history.c.action == "created")
        assert conn.execute(created).scalar_one() == len(refs)
        bodies = sorted(conn.execute(select(comments.c.body)).scalars())
        assert bodies == sorted(e["text"] for e in notes)  # each acknowledged comment exactly once
        assert conn.execute(select(outbox.c.state).where(outbox.c.state != "done")).all() == []
    check.dispose()
    receiver.server.shutdown()
    acknowledgements = {d for d in receiver.deliveries if d and ":ack" in d}
    assert len(acknowledgements) == len(creates)  # every webhook ticket's callback arrived, one id each
    assert set(receiver.deliveries) == acknowledgements  # redeliveries after a kill reuse their id
