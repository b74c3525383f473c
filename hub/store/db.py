"""Engine creation and the one way to open a write transaction on each backend."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from hub import jsonutil
from hub.store import checkpoint, direct

try:
    import fcntl
except ImportError:  # Windows: the in-process lock and SQLite's busy handler only
    fcntl = None  # type: ignore[assignment]

_sqlite_write_locks: dict[str, tuple[threading.Lock, threading.Lock]] = {}  # (turnstile, lock)
_sqlite_lock_files: dict[str, tuple[str, str]] = {}  # (turnstile, lock)
_lock_fds: dict[str, tuple[int, int]] = {}  # lock file -> (pid that opened it, fd)


def normalize_url(url: str) -> str:
    """Plain postgresql:// URLs use psycopg 3, the driver we ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    # orjson for the JSON columns: the stdlib encoder was ~5% of the worker's time
    kwargs.setdefault("json_serializer", jsonutil.dumps)
    kwargs.setdefault("json_deserializer", _json_loads)
    # A rejected statement's values are tickets' contents and token hashes: keep them out of the
    # error messages, which reach logs and the dead-letter reasons.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


def _json_loads(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        # SQLite hands back a JSON number stored as text as a number; SQLAlchemy passes the value
        # through on TypeError (what the stdlib decoder raises), not on orjson's ValueError.
        raise TypeError(f"not JSON text: {type(value).__name__}")
    return jsonutil.loads(value)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives power loss
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA wal_autocheckpoint={checkpoint.BACKSTOP_PAGES}")  # the rest: hub/store/checkpoint.py
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front: a deferred BEGIN that later writes can deadlock.
        immediate = conn.get_execution_options().get("hub_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    _sqlite_write_locks[str(engine.url)] = (threading.Lock(), threading.Lock())
    if database and database != ":memory:" and fcntl is not None:
        stem = str(Path(database).resolve())
        _sqlite_lock_files[str(engine.url)] = (stem + ".write-turn", stem + ".write-lock")
    return engine


def _lock_fd(path: str) -> int:
    """This process's descriptor of the lock file. Opened per process: a descriptor inherited
    across fork (gunicorn --preload) shares its flock with the parent and would not exclude it."""
    pid = os.getpid()
    found = _lock_fds.get(path)
    if found is None or found[0] != pid:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        _lock_fds[path] = found = (pid, fd)
    return found[1]


@contextmanager
def _process_lock(url: str) -> Iterator[None]:
    """Writers in other processes (gunicorn workers, a separate worker role) queue on a blocking
    flock and are woken by the kernel the moment it is free, instead of sleeping in SQLite's busy
    handler (1-100 ms between retries, which is what pushed p99 up). Taken in turns (`_turn`)."""
    paths = _sqlite_lock_files.get(url)
    if paths is None or fcntl is None:
        yield
        return
    turnstile, lock = (_lock_fd(path) for path in paths)
    with _turn(
        lambda: fcntl.flock(turnstile, fcntl.LOCK_EX),
        lambda: fcntl.flock(turnstile, fcntl.LOCK_UN),
        lambda: fcntl.flock(lock, fcntl.LOCK_EX),
        lambda: fcntl.flock(lock, fcntl.LOCK_UN),
    ):
        yield


@contextmanager
def _turn(
    enter: Callable[[], Any], leave: Callable[[], Any], acquire: Callable[[], Any], release: Callable[[], Any]
) -> Iterator[None]:
    """Hold a lock, taking turns with its other writers: a waiter holds the turnstile (enter ...
    leave) until it has the lock, so a holder that releases the lock and at once asks again - the
    worker, batch after batch - queues behind the waiter instead of winning the race for it, which
    neither threading.Lock nor flock promise to prevent. (A writer still waiting for the turnstile
    itself, held only while someone takes the lock, is not protected: with batches that hold the
    lock for milliseconds, a waiter is nearly always past it.) Measured while a worker drained a
    backlog: webhook p99 54-62 ms without, 35-37 ms with (bench/README.md, change 35)."""
    enter()
    try:
        acquire()
    finally:
        leave()
    try:
        yield
    finally:
        release()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write(engine: Engine, *, synced: bool = True) -> Iterator[Connection]:
    """A write transaction. On SQLite one thread of one process writes at a time (SQLite has one
    writer anyway; queueing here is cheaper than its busy-retry sleeps): a thread lock within the
    process, a blocking flock on `<database>.write-lock` across processes. `synced=False` (SQLite):
    the commit does not wait for the disk; only for work that is redone when lost (config.WORKER_SYNC)."""
    if not is_sqlite(engine):
        with engine.begin() as conn:
            yield conn
        return
    with sqlite_writer(engine), engine.connect().execution_options(hub_write=True) as conn:
        try:
            if not synced:  # (SQLite refuses the change inside a transaction)
                direct.driver(conn).execute("PRAGMA synchronous=NORMAL")
            with conn.begin():
                yield conn
        finally:
            if not synced and not conn.invalidated:
                direct.driver(conn).execute("PRAGMA synchronous=FULL")  # as every pooled connection has it


@contextmanager
def sqlite_writer(engine: Engine) -> Iterator[None]:
    """This thread's turn to write to a SQLite database: for code that drives a DBAPI connection
    itself (the webhook group committer) and must queue with every other writer."""
    url = str(engine.url)
    turnstile, lock = _sqlite_write_locks[url]
    with _turn(turnstile.acquire, turnstile.release, lock.acquire, lock.release), _process_lock(url):
        yield


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        yield conn
