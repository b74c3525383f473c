"""`hub serve`: the roles of one process, started together and stopped cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from hub import gc_tuning
from hub.runtime import Hub

log = logging.getLogger("hub.serve")


class _Stopping(SystemExit):
    """Unwinds the main thread on SIGTERM/SIGINT. A SystemExit, because waitress's loop swallows
    other exceptions raised while it is inside a channel handler."""


def run(hub: Hub, roles: set[str], *, host: str | None = None, port: int | None = None) -> None:
    from hub.scheduler import LeaderScheduler, WorkerLoop, build_scheduler

    stop = threading.Event()
    worker = WorkerLoop(hub) if "worker" in roles else None
    outbox = build_scheduler(hub, polls=False, outbox=True) if worker else None
    leader = LeaderScheduler(hub) if "scheduler" in roles else None
    for part in (outbox, worker, leader):
        if part is not None:
            part.start()
    server: Any = None
    app: Any = None
    if "web" in roles:
        from waitress.server import create_server

        from hub.app import create_app

        app = create_app(hub=hub)
        if worker is not None:  # a stored webhook event wakes the worker at once
            app.extensions["hub.intake"].wake = worker.wake.set
        server = create_server(app, host=host or hub.settings.host, port=port or hub.settings.port, threads=8)
        log.info("listening on http://%s:%s", host or hub.settings.host, port or hub.settings.port)

    def shutdown(signum: int, _frame: Any) -> None:
        # Raised in the main thread, this unwinds server.run() / stop.wait() into the finally below.
        if stop.is_set():
            return
        log.info("signal %s: stopping", signum)
        stop.set()
        raise _Stopping

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    gc_tuning.tune()
    log.info("hub running with roles: %s", ", ".join(sorted(roles)))
    try:
        if server is not None:
            server.run()
        else:
            stop.wait()
    except _Stopping:
        pass
    finally:
        if server is not None:
            from hub.app import close_app

            server.close()
            close_app(app)
        if leader is not None:
            leader.stop()
        if outbox is not None:
            outbox.shutdown(wait=False)
        if worker is not None:
            worker.stop()
        hub.close()
