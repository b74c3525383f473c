"""The database going away: nothing half-written, nothing lost, everything resumes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hub.config import load_config
from hub.pipeline import state
from hub.pipeline.inbox import receive
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain, process_batch
from hub.runtime import Hub
from hub.sdk import RawEvent
from hub.store.db import make_engine, read
from hub.store.tables import inbox, tickets
from tests import reference_connector as ref
from tests.conftest import BASE_CONFIG
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def outage(db_url, engine, write_config):
    """A hub talking to PostgreSQL through a proxy the test can cut."""
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = make_engine(url.set(port=proxy.port).render_as_string(hide_password=False), pool_pre_ping=False)
    hub = Hub(load_config(write_config(BASE_CONFIG)), engine=proxied)
    yield hub, proxy, engine
    proxy.close()
    proxied.dispose()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_worker_and_poller_pause_and_resume(outage):
    hub, proxy, direct = outage
    receive(hub.engine, "src", [RawEvent("e1", json.dumps({"key": "e1", "data": {"title": "A"}}).encode())])
    ref.SOURCES["src"].append({"key": "p1", "data": {"title": "Polled"}})

    proxy.cut()
    with pytest.raises(DBAPIError):
        process_batch(hub)
    report = poll_instance(hub, "src")
    assert report.error and report.error.startswith("database unavailable")
    with pytest.raises(DBAPIError):
        receive(hub.engine, "src", [RawEvent("e2", b"{}")])

    with read(direct) as conn:  # nothing half-written
        assert conn.execute(select(inbox.c.dedup_key, inbox.c.state)).all() == [("e1", "received")]
        assert conn.execute(select(tickets.c.id)).all() == []
        assert state.load_cursor(conn, "src") is None

    proxy.restore()
    assert poll_instance(hub, "src").received == 1
    assert drain(hub).done == 2
    with read(direct) as conn:
        assert sorted(conn.execute(select(tickets.c.title)).scalars()) == ["A", "Polled"]
