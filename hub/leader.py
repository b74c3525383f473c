"""One scheduler leads at a time.

PostgreSQL: a session-level advisory lock held on a dedicated connection; when the leader's
process dies its connection closes and the lock is free at once, so a standby takes over at its
next try (every few seconds). SQLite: an exclusive file lock next to the database, released by
the kernel when the process dies. No home-made cluster protocol.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("hub.leader")


class Leadership:
    def __init__(self, engine: Engine, name: str, lock_dir: Path) -> None:
        self.engine = engine
        self.key = zlib.crc32(f"hub:{name}".encode())  # a stable 32-bit advisory lock key
        self.lock_path = lock_dir / f"{name}.lock"
        self._conn: Any = None
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Take the lead if nobody holds it; True while we hold it."""
        if self.held:
            return self.check()
        if self.engine.dialect.name == "postgresql":
            return self._try_pg()
        return self._try_file()

    def check(self) -> bool:
        """Still the leader? (The PostgreSQL connection may have died under us.)"""
        if self._conn is None:
            return self._file is not None
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            log.warning("lost the database connection holding the scheduler lock")
            self._drop_conn()
            return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._drop_conn()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _try_pg(self) -> bool:
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        except SQLAlchemyError as exc:
            log.warning("cannot reach the database to take the scheduler lock: %s", type(exc).__name__)
            return False
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def _try_file(self) -> bool:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "ab")  # noqa: SIM115 - held open for the lifetime of the lead
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._file = handle
        return True

    def _drop_conn(self) -> None:
        with contextlib.suppress(Exception):  # the connection may be broken already
            self._conn.invalidate()
            self._conn.close()
        self._conn = None
