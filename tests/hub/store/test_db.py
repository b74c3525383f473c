"""SQLite writers take turns: a writer that releases the write lock and at once asks again (the
worker, batch after batch) goes behind one already waiting (a webhook's commit), among the
threads of a process and across processes (Linux: flock)."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import statistics
import threading
import time
from pathlib import Path

from hub.store.db import make_engine, sqlite_writer, write


def _take_the_lock(url: str, got_file: str) -> None:
    """Another process (a worker role): asks for the lock, notes when it had it."""
    with sqlite_writer(make_engine(url)):
        Path(got_file).write_text(repr(time.time()))
        time.sleep(0.05)


def _locked(path: str) -> bool:
    """Whether some process holds a flock on `path` (probed on a descriptor of our own)."""
    if not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_a_thread_waiting_for_the_lock_goes_before_the_holders_next_turn(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    stop = threading.Event()
    turns: list[float] = []

    def worker() -> None:
        while not stop.is_set():
            with sqlite_writer(engine):
                turns.append(time.monotonic())

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        waits = []
        for _ in range(30):
            time.sleep(0.002)
            asked = time.monotonic()
            with sqlite_writer(engine):
                got = time.monotonic()
            waits.append(sum(1 for t in turns if asked < t < got))  # worker turns that went first
    finally:
        stop.set()
        thread.join(10)
    assert len(turns) > 30  # the worker kept taking the lock meanwhile
    # At most the turn that had begun as we asked. The median: our own thread may be preempted
    # between noting the time and asking, and the worker's turns meanwhile are not unfairness.
    # (Without turns, the median was 3 and the worst 12.)
    assert statistics.median(waits) <= 1, waits


def test_a_process_waiting_for_the_lock_holds_the_turnstile_and_goes_next(tmp_path):
    """Across processes (gunicorn and a worker role): the waiting process holds the turnstile file
    while it waits, so the holder, releasing and at once asking again, comes after it."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    turnstile, got = str(tmp_path / "hub.db") + ".write-turn", tmp_path / "got"
    other = multiprocessing.get_context("spawn").Process(target=_take_the_lock, args=(url, str(got)))
    with sqlite_writer(engine):
        other.start()
        deadline = time.monotonic() + 30
        while not _locked(turnstile) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _locked(turnstile)  # the other process is waiting for the lock, at the turnstile
    with sqlite_writer(engine):  # released, and asked again at once
        ours = time.time()
    other.join(30)
    assert float(got.read_text()) < ours
    assert not _locked(turnstile)


def _synchronous(conn) -> int:
    return conn.connection.driver_connection.execute("PRAGMA synchronous").fetchone()[0]


def test_an_unsynced_write_leaves_the_pooled_connection_synced(tmp_path: Path) -> None:
    """`write(synced=False)` commits without waiting for the disk (synchronous=NORMAL, 1); the
    connection goes back to the pool syncing every commit again (FULL, 2), also after a failure."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}", pool_size=1, max_overflow=0)
    with write(engine, synced=False) as conn:
        assert _synchronous(conn) == 1
    with write(engine) as conn:
        assert _synchronous(conn) == 2
    try:
        with write(engine, synced=False) as conn:
            raise RuntimeError("the batch failed")
    except RuntimeError:
        pass
    with write(engine) as conn:
        assert _synchronous(conn) == 2
    engine.dispose()
