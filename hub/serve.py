"""`hub serve`: the roles of one process, started together and stopped cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from hub.runtime import Hub

log = logging.getLogger("hub.serve")


def run(hub: Hub, roles: set[str], *, host: str | None = None, port: int | None = None) -> None:
    from hub.scheduler import WorkerLoop, build_scheduler

    stop = threading.Event()
    worker = WorkerLoop(hub) if "worker" in roles else None
    scheduler = None
    if "scheduler" in roles or "worker" in roles:
        scheduler = build_scheduler(hub, polls="scheduler" in roles, outbox="worker" in roles)
        scheduler.start()
    if worker:
        worker.start()
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
        log.info("signal %s: stopping", signum)
        stop.set()
        if server is not None:
            server.close()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("hub running with roles: %s", ", ".join(sorted(roles)))
    try:
        if server is not None:
            try:
                server.run()
            except OSError:
                if not stop.is_set():
                    raise  # closing the listening socket on SIGTERM ends waitress's loop this way
        else:
            stop.wait()
    finally:
        if server is not None:
            from hub.app import close_app

            close_app(app)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if worker is not None:
            worker.stop()
        hub.close()
