"""Several hub processes on one PostgreSQL: no double processing, and scheduler failover.

Real `hub serve` processes (two workers, two schedulers) are started against the PostgreSQL on
127.0.0.1:5432; one scheduler is SIGKILLed and the other must take over the polling.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from hub.pipeline.inbox import receive
from hub.sdk import RawEvent
from hub.store.db import make_engine, read
from hub.store.tables import inbox, ticket_history, tickets
from tests.conftest import REPO

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

CONFIG = """
hub:
  data_dir: {data_dir}
  worker: {batch_size: 20, interval: 0.2s}
instances:
  - id: hook
    connector: webhook
    mapping:
      external_id: /ref
      fields: {ticket.create: {title: /title}}
  - id: drop
    connector: files
    schedule: {every: 1s}
    settings: {directory: drop, pattern: "*.csv"}
    mapping:
      external_id: /ref
      fields: {ticket.create: {title: /title}}
"""


def wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_two_workers_two_schedulers(engine, db_url, write_config, tmp_path):
    config = write_config(CONFIG)
    (tmp_path / "drop").mkdir()
    events = [RawEvent(f"d{i}", json.dumps({"ref": f"R{i % 700}", "title": f"T{i}"}).encode()) for i in range(1000)]
    receive(engine, "hook", events)  # 1000 events for 700 tickets: 300 are updates of earlier ones

    env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    logs = {}

    def start(role: str, n: int) -> subprocess.Popen[bytes]:
        logs[(role, n)] = open(tmp_path / f"{role}{n}.log", "wb")  # noqa: SIM115
        return subprocess.Popen([sys.executable, "-m", "hub", "serve", "--role", role], env=env, stderr=logs[(role, n)])

    procs = {
        ("worker", 1): start("worker", 1),
        ("worker", 2): start("worker", 2),
        ("scheduler", 1): start("scheduler", 1),
        ("scheduler", 2): start("scheduler", 2),
    }
    check = make_engine(db_url)
    try:

        def count(query) -> int:
            with read(check) as conn:
                return int(conn.execute(query).scalar_one())

        done = select(func.count()).select_from(inbox).where(inbox.c.state == "done")
        assert wait_for(lambda: count(done) == 1000), "workers did not finish"
        assert count(select(func.count()).select_from(tickets)) == 700
        created = select(func.count()).select_from(ticket_history).where(ticket_history.c.action == "created")
        assert count(created) == 700  # no event was applied twice

        # polling: exactly one scheduler leads
        (tmp_path / "drop" / "a.csv").write_text("ref,title\nF1,First file\n")
        first = select(func.count()).select_from(tickets).where(tickets.c.title == "First file")
        assert wait_for(lambda: count(first) == 1)
        leaders = [n for n in (1, 2) if b"now leads the scheduler" in (tmp_path / f"scheduler{n}.log").read_bytes()]
        assert len(leaders) == 1
        leader = leaders[0]
        procs[("scheduler", leader)].send_signal(signal.SIGKILL)
        procs[("scheduler", leader)].wait(10)

        (tmp_path / "drop" / "b.csv").write_text("ref,title\nF2,Second file\n")
        second = select(func.count()).select_from(tickets).where(tickets.c.title == "Second file")
        assert wait_for(lambda: count(second) == 1, seconds=30), "the standby scheduler did not take over"
        standby = 3 - leader
        assert b"now leads the scheduler" in (tmp_path / f"scheduler{standby}.log").read_bytes()
        with read(check) as conn:
            assert conn.execute(select(func.count()).select_from(inbox).where(inbox.c.instance == "drop")).scalar() == 2
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for handle in logs.values():
            handle.close()
        check.dispose()
