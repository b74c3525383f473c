"""Benchmark 6: webhook intake while a worker process drains a backlog (SQLite), against intake
on the same server with the worker stopped. A storm is both at once: thousands of events queued
and more arriving. On SQLite both need the one write lock.

Figures: intake events/s and p50/p99 at 8 connections, idle and during the drain, and the
worker's events/s meanwhile (inbox rows it finished per second of the measured phase)."""

from __future__ import annotations

import shutil
import subprocess
import time

from sqlalchemy import func, select

from bench import payloads
from bench.env import bench_hub
from bench.intake import measure
from bench.servers import BIN, free_port, gunicorn_command, running, serving
from bench.stats import Results
from bench.worker import load_inbox
from hub.store.db import make_engine
from hub.store.tables import inbox


def run(quick: bool = False) -> Results:
    results = Results("storm (SQLite: intake while a worker drains a backlog)")
    if shutil.which("wrk") is None:
        results.notes.append("skipped: wrk is not installed (apt-get install wrk)")
        return results
    runs, duration = (2, 3.0) if quick else (3, 5.0)
    backlog = 20_000 if quick else 80_000  # more than the worker drains during the measured runs
    with bench_hub("sqlite") as hub:
        load_inbox(hub.database_url, payloads.mixed(backlog))
        engine = make_engine(hub.database_url)
        finished = select(func.count()).select_from(inbox).where(inbox.c.state != "received")
        port = free_port()
        with serving(gunicorn_command("hub.wsgi:app", port), port, hub.env()):
            measure(Results("warmup"), "intake", port, hub.secret, [8], 1, 1.0)
            measure(results, "intake idle", port, hub.secret, [8], runs, duration)
            worker = [str(BIN / "hub"), "serve", "--role", "worker"]  # as deployed beside gunicorn
            with running(worker, hub.env(), stderr=subprocess.DEVNULL):
                time.sleep(2.0)  # started and draining
                with engine.connect() as conn:
                    before, began = conn.execute(finished).scalar_one(), time.monotonic()
                measure(results, "intake during drain", port, hub.secret, [8], runs, duration)
                with engine.connect() as conn:
                    after, ended = conn.execute(finished).scalar_one(), time.monotonic()
                    left = conn.execute(select(func.count()).where(inbox.c.state == "received")).scalar_one()
        engine.dispose()
    # The phase also builds each run's signed request file: the rate is a little under the
    # worker's own, the same way in every run.
    results.series_for("worker during intake", "ev/s").add((after - before) / (ended - began))
    if left == 0:
        results.notes.append("the backlog ran out during the measured runs: raise it")
    results.ratio("during drain / idle c=8", "intake during drain c=8 events/s", "intake idle c=8 events/s")
    return results
