"""SQLite's write-ahead log is copied back into the database by a thread of its own, not by
whichever commit happens to cross the log's size limit.

With SQLite's automatic checkpoints (every 1,000 pages), the commit that crosses the limit copies
the log into the database file and waits for the disk, while holding the only write lock: a
worker batch then took several times its usual time, and any webhook waiting for the lock waited
with it. The worker draining 60,000 events ran 8-12% faster with the checkpoints moved out of its
commits (bench/README.md, change 43). Here a thread runs a PASSIVE checkpoint every `INTERVAL`,
which waits for no writer and no reader; the sqlite3 driver lets go of the GIL while it runs, so
on two cores it overlaps the writers' work.

Processes that write at volume run it while they do (`running`): the worker loop, `drain` and the
webhook group committer. Every connection keeps automatic checkpoints at `BACKSTOP_PAGES`, so a
process without the thread (a CLI command) still keeps the log from growing without bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from hub.store import direct

log = logging.getLogger("hub.store.checkpoint")

INTERVAL = 0.25  # seconds: at ~50 MB of log per second while a backlog drains, ~12 MB between checkpoints
BACKSTOP_PAGES = 10_000  # ~40 MB of log before a commit checkpoints by itself

_lock = threading.Lock()
_running: dict[str, tuple[threading.Event, threading.Thread, int]] = {}  # by database file


@contextmanager
def running(engine: Engine) -> Iterator[None]:
    """Checkpoint `engine`'s database from a thread for as long as this lasts (nested and
    concurrent uses share one thread). Nothing for other databases or an in-memory one."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    _join(engine, database)
    try:
        yield
    finally:
        _leave(database)


def _join(engine: Engine, database: str) -> None:
    with _lock:
        found = _running.get(database)
        if found is not None:
            stop, thread, users = found
            _running[database] = (stop, thread, users + 1)
            return
        stop = threading.Event()
        thread = threading.Thread(target=_loop, args=(engine, stop), name="hub-checkpoint", daemon=True)
        _running[database] = (stop, thread, 1)
        thread.start()


def _leave(database: str) -> None:
    with _lock:
        stop, thread, users = _running[database]
        if users > 1:
            _running[database] = (stop, thread, users - 1)
            return
        del _running[database]
    stop.set()
    thread.join(timeout=30)


def _loop(engine: Engine, stop: threading.Event) -> None:
    failing = False
    while not stop.wait(INTERVAL):
        try:
            checkpoint(engine)
        except Exception as exc:  # the database away or locked: try again next time
            if not failing:
                log.warning("checkpoint failed (%s); retrying", type(exc).__name__)
            failing = True
        else:
            failing = False
    try:
        checkpoint(engine)  # leave little of the log behind
    except Exception:
        log.debug("last checkpoint failed", exc_info=True)


def checkpoint(engine: Engine) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: (1 when it could not run at all, pages in the log, pages copied)."""
    with engine.connect() as conn:
        row = direct.driver(conn).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])
