"""Starting and stopping the processes under test (gunicorn, `hub serve`), and their memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
GUNICORN_WORKERS = int(os.environ.get("HUB_BENCH_GUNICORN_WORKERS", "1"))
GUNICORN_THREADS = int(os.environ.get("HUB_BENCH_GUNICORN_THREADS", "16"))
GUNICORN_CLASS = os.environ.get("HUB_BENCH_GUNICORN_CLASS", "gthread")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


def gunicorn_command(app: str, port: int) -> list[str]:
    """The same settings for the hub and the reference: gthread workers, so the requests of one
    process can share a group commit."""
    return [
        str(BIN / "gunicorn"),
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        GUNICORN_CLASS,
        "--threads",
        str(GUNICORN_THREADS),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app,
    ]


@contextmanager
def running(
    command: list[str], env: dict[str, str] | None = None, stderr: int = subprocess.PIPE
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in a process group of its own, stopped (TERM, then KILL after 20 s) on exit.
    stderr is kept for reporting a server that did not start; a long-running process that nobody
    reads from should get DEVNULL, or it stops once the pipe is full."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def serving(command: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`running`, once something listens on `port`."""
    with running(command, env) as proc:
        wait_for_port(port, proc)
        yield proc


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes(pid: int) -> int:
    """The high-water mark of the process's resident set (VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0
