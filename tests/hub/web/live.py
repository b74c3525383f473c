"""A real `hub serve` process on a free port, over the example configuration on a SQLite file."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from click.testing import CliRunner, Result

from hub.cli import main
from hub.web.verify import new_whsec

REPO = Path(__file__).resolve().parents[3]
HUB = str(Path(sys.executable).with_name("hub"))


SCIM_TOKEN = "scim-live-test-token-0123456789"  # the example config's hr-scim instance


@dataclass
class LiveHub:
    url: str
    config: Path
    env: dict[str, str]
    secret: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> Result:
        """Run a `hub` command in this process (a fresh interpreter costs seconds of imports)."""
        extra = {
            "HUB_INTAKE_SECRET": self.secret,
            "HUB_SCIM_TOKEN": SCIM_TOKEN,
            "HUB_DATABASE_URL": None,
            "HUB_CONFIG": None,
            **(env or {}),
        }
        result = CliRunner().invoke(main, ["--config", str(self.config), *args], env=extra)
        if check and result.exit_code != 0:
            raise AssertionError(f"hub {' '.join(args)} failed: {result.output}")
        return result

    def token(self, name: str, *scopes: str) -> dict[str, str]:
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        plaintext = self.cli("tokens", "create", name, *args).stdout.strip().splitlines()[-1]
        return {"Authorization": f"Bearer {plaintext}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_example(tmp: Path) -> Path:
    """config/example.yaml and its samples under tmp; its data_dir (../var) lands in tmp/var."""
    shutil.copytree(REPO / "config", tmp / "config")
    (tmp / "var" / "drop" / "finance").mkdir(parents=True)
    return tmp / "config" / "example.yaml"


@contextmanager
def serve(tmp: Path, startup_seconds: float = 60) -> Iterator[LiveHub]:
    config = copy_example(tmp)
    secret = new_whsec()
    port = free_port()
    env = {**os.environ, "HUB_INTAKE_SECRET": secret, "HUB_SCIM_TOKEN": SCIM_TOKEN}
    env.pop("HUB_DATABASE_URL", None)
    env.pop("HUB_CONFIG", None)
    live = LiveHub(f"http://127.0.0.1:{port}", config, env, secret, tmp / "serve.log")
    live.cli("db", "upgrade")
    with live.log.open("w") as log:
        process = subprocess.Popen(
            [HUB, "--config", str(config), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        live.process = process
        try:
            _wait_until_up(live.url, process, startup_seconds)
            yield live
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise AssertionError(f"hub serve exited with {process.returncode}")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"hub serve did not become ready within {seconds} s")


def wait_for(condition, seconds: float = 30, step: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll until condition() is truthy (the worker runs in the server process); return its value."""
    give_up = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > give_up:
            return value
        time.sleep(step)
