"""The write-ahead log is copied back into the database file by the checkpoint thread while a
writer runs it, and by no commit until the log reaches the backstop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, text

from hub.store import checkpoint
from hub.store.db import make_engine, write


def _engine(tmp_path: Path) -> tuple[Engine, Path]:
    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    with write(engine) as conn:
        conn.execute(text("CREATE TABLE blobs (body BLOB)"))
    checkpoint.checkpoint(engine)  # the table is in the file; what follows is only in the log
    return engine, path


def _write_pages(engine: Engine, pages: int) -> None:
    with write(engine) as conn:
        for _ in range(pages):
            conn.execute(text("INSERT INTO blobs VALUES (randomblob(4000))"))


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hub-checkpoint"]


def test_commits_leave_the_log_alone_below_the_backstop(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    size = path.stat().st_size
    _write_pages(engine, 1500)  # past SQLite's own limit of 1,000 pages, under the backstop
    assert path.stat().st_size == size
    with engine.connect() as conn:
        limit = conn.connection.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert limit == checkpoint.BACKSTOP_PAGES
    engine.dispose()


def test_the_thread_copies_the_log_back_while_a_writer_runs(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    size = path.stat().st_size
    with checkpoint.running(engine):
        _write_pages(engine, 500)
        deadline = time.monotonic() + 10
        while path.stat().st_size == size and time.monotonic() < deadline:
            time.sleep(checkpoint.INTERVAL / 5)
        assert path.stat().st_size > size + 500 * 4000
    engine.dispose()


def test_writers_in_one_process_share_one_thread_that_stops_with_the_last(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    size = path.stat().st_size
    with checkpoint.running(engine):
        with checkpoint.running(engine):
            assert len(_checkpoint_threads()) == 1
        assert len(_checkpoint_threads()) == 1
        _write_pages(engine, 10)
    assert _checkpoint_threads() == []
    # what the last writer left in the log went back into the file as the thread stopped
    assert path.stat().st_size >= size + 10 * 4000
    engine.dispose()
