"""Fixtures shared by the whole suite.

`engine` runs every test that uses it twice: on a real SQLite file and on the real PostgreSQL
named by HUB_TEST_PG_URL (default: 127.0.0.1:5432, database `test`), each test in a schema of its
own. Without a reachable PostgreSQL the postgres variants are skipped, unless
HUB_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

import base64
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hub import clock, registry
from hub.config import load_config
from hub.runtime import Hub
from hub.store.db import make_engine
from hub.store.migrate import upgrade
from tests import reference_connector

PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[1]


def _pg_available() -> str | None:
    try:
        probe = make_engine(PG_URL, pool_size=1)
        with probe.connect() as conn:
            conn.execute(text("select 1"))
        probe.dispose()
        return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}"


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


@pytest.fixture(autouse=True, scope="session")
def _register_reference_connector() -> Iterator[None]:
    registry.register(reference_connector.MemoryConnector)
    yield
    registry.unregister("memory")


@pytest.fixture(autouse=True)
def _intake_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """config/example.yaml takes the intake webhook's secret from the environment."""
    if not os.environ.get("HUB_INTAKE_SECRET"):
        monkeypatch.setenv(
            "HUB_INTAKE_SECRET", "whsec_" + base64.b64encode(b"intake-test-secret-0123456789ab").decode()
        )
    if not os.environ.get("HUB_SCIM_TOKEN"):
        monkeypatch.setenv("HUB_SCIM_TOKEN", "scim-example-token-0123456789")


@pytest.fixture(autouse=True)
def _reset_reference_connector() -> Iterator[None]:
    reference_connector.reset()
    yield
    clock.set_clock(None)


def pg_schema_engine(schema: str) -> Engine:
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_reason: str | None) -> Iterator[str]:
    """A database URL for an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    if pg_reason:
        if os.environ.get("HUB_REQUIRE_POSTGRES") == "1":
            pytest.fail(pg_reason)
        pytest.skip(pg_reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    request.node.pg_schema = schema
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database on each backend."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


BASE_CONFIG = """
hub:
  data_dir: {data_dir}
instances:
  - id: src
    connector: memory
    settings: {page_size: 3}
    schedule: {every: 1m}
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a YAML config (dedented; `{data_dir}` filled in) and return its path."""

    def write(body: str, name: str = "hub.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body).replace("{data_dir}", str(tmp_path / "var")))
        return path

    return write


@pytest.fixture
def make_hub(engine: Engine, write_config: Callable[[str], Path]) -> Iterator[Callable[..., Hub]]:
    """Build a Hub over the test database from YAML text (default: one `memory` instance `src`)."""
    built: list[Hub] = []

    def build(config_text: str | None = None) -> Hub:
        path = write_config(config_text or BASE_CONFIG)
        hub = Hub(load_config(path), engine=engine)
        built.append(hub)
        return hub

    yield build


class FakeClock:
    """A controllable clock: tests move time explicitly."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    clock.set_clock(fake)
    yield fake
    clock.set_clock(None)
