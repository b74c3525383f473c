"""Scheduler leadership: exactly one leader; a standby takes over when the leader goes away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from hub.leader import Leadership
from tests.conftest import REPO


def test_one_leader_and_takeover_after_release(engine, tmp_path):
    first, second = Leadership(engine, "scheduler", tmp_path), Leadership(engine, "scheduler", tmp_path)
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.try_acquire() is True  # still ours
    first.release()
    assert second.try_acquire() is True
    second.release()


def test_takeover_when_the_leader_process_is_killed(engine, db_url, tmp_path):
    """The lock dies with its process: SIGKILL, then a standby acquires it within seconds."""
    script = (
        "import sys, time, pathlib\n"
        "from hub.store.db import make_engine\n"
        "from hub.leader import Leadership\n"
        f"lead = Leadership(make_engine({db_url!r}), 'scheduler', pathlib.Path({str(tmp_path)!r}))\n"
        "assert lead.try_acquire()\n"
        "print('leading', flush=True)\n"
        "time.sleep(300)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"leading"
        standby = Leadership(engine, "scheduler", tmp_path)
        assert standby.try_acquire() is False
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for _ in range(100):
            if standby.try_acquire():
                break
            time.sleep(0.1)
        assert standby.held
        standby.release()
    finally:
        if proc.poll() is None:
            proc.kill()
