"""The `hub` command as an admin uses it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import main
from hub.store.db import make_engine
from hub.store.migrate import MIGRATIONS
from hub.store.tables import inbox, tickets
from tests.conftest import REPO

HUB = [sys.executable, "-m", "hub"]


@pytest.fixture
def admin(tmp_path, db_url, monkeypatch):
    """Runs `hub` against a copy of the example config and a fresh database of each backend."""
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setenv("HUB_CONFIG", str(config_dir / "example.yaml"))
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.config_dir = config_dir  # type: ignore[attr-defined]
    return run


def test_validate_example_and_broken_copy(admin):
    assert "OK (2 connector instances)" in admin("config", "validate").output
    example = admin.config_dir / "example.yaml"
    example.write_text(example.read_text().replace("schedule: {every: 1m}", "schedule: {every: soon}"))
    result = admin("config", "validate", ok=False)
    assert result.exit_code == 1
    assert "instances[1] (id 'finance-exports'): schedule" in result.output
    assert "Traceback" not in result.output


def test_commands_before_upgrade_say_what_to_do(admin):
    result = admin("tickets", "list", ok=False)
    assert result.exit_code == 1 and "run `hub db upgrade`" in result.output


def test_ingest_twice_gives_one_ticket(admin):
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert f"revision {head}" in admin("db", "upgrade").output
    sample = str(admin.config_dir / "examples" / "intake-event.json")
    first = admin("events", "ingest", "intake", sample).output
    second = admin("events", "ingest", "intake", sample).output
    assert "stored" in first and "1 applied" in first
    assert "already received" in second
    listed = json.loads(admin("tickets", "list", "--json").output)
    assert len(listed) == 1 and listed[0]["queue"] == "public-works" and listed[0]["priority"] == "high"
    shown = json.loads(admin("tickets", "show", listed[0]["number"]).output)
    assert shown["requester"]["phone"] == "+1-555-0147" and shown["history"][0]["action"] == "created"


def test_dead_letter_then_replay_after_config_fix(admin):
    admin("db", "upgrade")
    example = admin.config_dir / "example.yaml"
    original = example.read_text()
    example.write_text(
        original.replace(
            'title: {template: "{request.category}: {request.summary}"}',
            "title: {path: /request/subject, required: true}",
            1,
        )
    )
    admin("events", "ingest", "intake", str(admin.config_dir / "examples" / "intake-event.json"))
    dead = json.loads(admin("events", "list", "--dead", "--json").output)
    assert len(dead) == 1 and "title: required value is missing" in dead[0]["last_error"]
    assert json.loads(admin("tickets", "list", "--json").output) == []

    example.write_text(original)
    replay = admin("events", "replay", "--all-dead").output
    assert "1 event(s) queued" in replay and "1 applied" in replay
    assert len(json.loads(admin("tickets", "list", "--json").output)) == 1
    assert json.loads(admin("events", "list", "--dead", "--json").output) == []


def test_poll_finance_export(admin):
    admin("db", "upgrade")
    drop = admin.config_dir.parent / "var" / "drop" / "finance"
    drop.mkdir(parents=True)
    shutil.copy(admin.config_dir / "examples" / "ap-exceptions.csv", drop)
    assert "2 new" in admin("connectors", "poll", "finance-exports").output
    assert "0 new" in admin("connectors", "poll", "finance-exports").output
    listed = admin("connectors", "list").output
    assert "finance-exports" in listed and "files" in listed
    titles = [t["title"] for t in json.loads(admin("tickets", "list", "--json").output)]
    assert "Invoice INV-88123 from Acme Paving: PO amount exceeded" in titles


def test_unknown_things_get_one_line_errors(admin):
    admin("db", "upgrade")
    result = admin("connectors", "poll", "finanse-exports", ok=False)
    assert result.exit_code == 1 and "did you mean 'finance-exports'" in result.output
    assert "Traceback" not in result.output
    assert admin("tickets", "show", "REQ-2026-999999", ok=False).exit_code == 1


def _env(db_url: str, config: Path) -> dict[str, str]:
    return {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_CONFIG": str(config), "PYTHONPATH": str(REPO)}


def test_worker_killed_between_receive_and_apply_loses_nothing(admin, db_url, tmp_path):
    """A real process is SIGKILLed while it holds the event's transaction open."""
    admin("db", "upgrade")
    sample = admin.config_dir / "examples" / "intake-event.json"
    admin("events", "ingest", "--no-process", "intake", str(sample))
    marker = tmp_path / "applying"
    script = f"""
import time, pathlib
from hub.config import load_config
from hub.runtime import Hub
from hub.pipeline import apply, worker
original = apply.handlers["ticket.create"]
def slow(ctx, event):
    ticket_id = original(ctx, event)
    pathlib.Path({str(marker)!r}).write_text(str(ticket_id))
    time.sleep(120)
    return ticket_id
apply.handlers["ticket.create"] = slow
worker.process_batch(Hub(load_config({str(admin.config_dir / "example.yaml")!r})))
"""
    proc = subprocess.Popen([sys.executable, "-c", script], env=_env(db_url, admin.config_dir / "example.yaml"))
    try:
        for _ in range(300):
            if marker.exists():
                break
            time.sleep(0.1)
        assert marker.exists(), "worker never reached apply"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(tickets.c.id)).all() == []
        assert conn.execute(select(inbox.c.state)).scalars().all() == ["received"]
    engine.dispose()

    # a real worker process picks it up afterwards
    server = subprocess.Popen(
        [*HUB, "serve", "--role", "worker"],
        env=_env(db_url, admin.config_dir / "example.yaml"),
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            listed = json.loads(admin("tickets", "list", "--json").output)
            if listed:
                break
            time.sleep(0.1)
        assert len(listed) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    assert json.loads(admin("events", "list", "--json").output)[0]["state"] == "done"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_all_roles_answers_health_and_stops_cleanly(admin, db_url):
    import requests

    admin("db", "upgrade")
    port = _free_port()
    env = _env(db_url, admin.config_dir / "example.yaml")
    errors = (admin.config_dir / "serve.log").open("wb")
    server = subprocess.Popen([*HUB, "serve", "--port", str(port)], env=env, stderr=errors)
    try:
        for _ in range(300):
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert ready.status_code == 200 and ready.json() == {"status": "ok"}
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json() == {"status": "ok"}
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
    errors.close()
    log = (admin.config_dir / "serve.log").read_text()
    assert code == 0, log
    assert "roles: scheduler, web, worker" in log and "Traceback" not in log


def test_connectors_check_reports_and_fails(admin):
    failed = admin("connectors", "check", "finance-exports", ok=False)
    assert failed.exit_code == 1 and "FAIL directory" in failed.output and "does not exist" in failed.output
    (admin.config_dir.parent / "var" / "drop" / "finance").mkdir(parents=True)
    assert "ok   directory" in admin("connectors", "check", "finance-exports").output
    assert "webhook" in admin("connectors", "list", "--available").output
