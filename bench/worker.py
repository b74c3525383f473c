"""Benchmark 2: a backlog of inbox events (mixed creates, notes, status changes) through
normalize + validate + correlate + apply, on SQLite and PostgreSQL with 1 and 2 worker processes.
Reference: batched INSERTs of the rows the events amount to, into the same database."""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import func, insert, select

from bench import payloads
from bench.env import BenchHub, bench_hub, pg_available
from bench.stats import Results
from hub import clock
from hub.store.db import make_engine
from hub.store.tables import comments, inbox, ticket_history, tickets


def load_inbox(url: str, events: list[tuple[str, bytes]]) -> None:
    """The backlog, stored the way receive stores it, in big batches (not what is measured)."""
    engine = make_engine(url)
    now = clock.now() - timedelta(seconds=5)
    rows = [
        {
            "instance": "intake",
            "dedup_key": key,
            "received_at": now,
            "content_type": "application/json",
            "headers": {},
            "body": body,
            "state": "received",
            "attempts": 0,
            "available_at": now,
        }
        for key, body in events
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(inbox), rows[start : start + 5000])
    engine.dispose()


def _worker_process(config: str, url: str, start: Any, done: Any) -> None:
    os.environ["HUB_DATABASE_URL"] = url
    from hub import gc_tuning
    from hub.config import load_config
    from hub.pipeline.worker import BatchSizer
    from hub.runtime import Hub
    from hub.store import checkpoint

    hub = Hub(load_config(config))
    gc_tuning.tune()  # as `hub serve` does
    sizer = BatchSizer(hub)  # batches sized as `hub serve --role worker` sizes them
    start.wait()
    with checkpoint.running(hub.engine):  # as its worker loop runs
        while True:
            report = sizer.run(hub)
            if report.claimed == 0 or report.claimed == report.deferred:
                with hub.engine.connect() as conn:
                    count = select(func.count()).select_from(inbox).where(inbox.c.state == "received")
                    left = conn.execute(count).scalar()
                if not left:
                    break
                time.sleep(0.05)
    hub.close()
    done.set()


def run_workers(hub: BenchHub, workers: int) -> float:
    """Seconds for `workers` processes to drain the inbox."""
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = []
    for _ in range(workers):
        done = ctx.Event()
        p = ctx.Process(target=_worker_process, args=(str(hub.config), hub.database_url, start, done))
        p.start()
        procs.append(p)
    time.sleep(1.0)  # imports and engines ready before the clock starts
    began = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    return time.perf_counter() - began


def outcome(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        states = dict(conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state)).all())
    engine.dispose()
    return {str(k): int(v) for k, v in states.items()}


def reference_inserts(url: str, events: list[tuple[str, bytes]], batch: int) -> float:
    """Seconds to INSERT one ticket per create, one comment per note and one history row per
    status change, `batch` events per transaction: the floor of what the worker writes."""
    engine = make_engine(url)
    now = clock.now()
    docs = [orjson.loads(body) for _key, body in events]
    with engine.begin() as conn:  # a ticket for notes/status changes to point at
        target = conn.execute(
            insert(tickets).returning(tickets.c.id),
            {
                "type": "x",
                "title": "x",
                "description": "",
                "status": "new",
                "priority": "normal",
                "channel": "phone",
                "requester": {},
                "source": {},
                "source_instance": "intake",
                "attachments": [],
                "tags": [],
                "attributes": {},
                "created_at": now,
                "updated_at": now,
                "version": 1,
            },
        ).scalar_one()
    began = time.perf_counter()
    for start in range(0, len(docs), batch):
        new_tickets, new_comments, new_history = [], [], []
        for doc in docs[start : start + batch]:
            if doc["event"] == "request.created":
                r = doc["request"]
                new_tickets.append(
                    {
                        "type": "citizen_request",
                        "title": f"{r['category']}: {r['summary']}",
                        "description": r["description"],
                        "status": "new",
                        "priority": "normal",
                        "channel": "phone",
                        "requester": doc["caller"],
                        "source": {"instance": "intake"},
                        "source_instance": "intake",
                        "attachments": [],
                        "tags": [],
                        "attributes": doc["call"],
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
            elif doc["event"] == "request.note":
                new_comments.append(
                    {
                        "ticket_id": target,
                        "at": now,
                        "author": doc["caller"],
                        "body": doc["note"]["text"],
                        "public": True,
                        "attachments": [],
                    }
                )
            else:
                new_history.append(
                    {
                        "ticket_id": target,
                        "at": now,
                        "actor": "connector:intake",
                        "action": "status",
                        "field": "status",
                        "old": "new",
                        "new": doc["status"],
                    }
                )
        with engine.begin() as conn:
            for table, rows in ((tickets, new_tickets), (comments, new_comments), (ticket_history, new_history)):
                if rows:
                    conn.execute(insert(table), rows)
    elapsed = time.perf_counter() - began
    engine.dispose()
    return elapsed


def validation_cost(results: Results, events: list[tuple[str, bytes]]) -> None:
    """µs per canonical event for the compiled validator, on events the pipeline produced."""
    from hub import schemas
    from hub.config import load_config
    from hub.pipeline.normalize import normalize
    from hub.runtime import Hub
    from hub.sdk.connector import RawEvent

    with bench_hub("sqlite") as bh:
        hub = Hub(load_config(str(bh.config)))
        canonical = [e for key, body in events[:2000] for e in normalize(hub, "intake", RawEvent(key, body))]
        hub.close()
    for _ in range(3):
        began = time.perf_counter()
        for event in canonical:
            schemas.validate("event", event)
        results.series_for("validate (jsonschema-rs) per event", "us").add(
            (time.perf_counter() - began) / len(canonical) * 1e6
        )


def run(quick: bool = False) -> Results:
    count = int(os.environ.get("HUB_BENCH_WORKER_EVENTS", 10_000 if quick else 100_000))
    runs = 1 if not quick else 2
    results = Results(f"worker ({count:,} inbox events)")
    events = payloads.mixed(count)
    validation_cost(results, events)
    backends = ["sqlite"]
    reason = pg_available()
    if reason is None:
        backends.append("postgresql")
    else:
        results.notes.append(f"PostgreSQL skipped: {reason}")
    for backend in backends:
        for _ in range(runs):
            for workers in (1, 2):
                with bench_hub(backend) as hub:  # the shipped batch size for each backend
                    load_inbox(hub.database_url, events)
                    seconds = run_workers(hub, workers)
                    states = outcome(hub.database_url)
                results.series_for(f"{backend} worker x{workers}", "ev/s").add(count / seconds)
                if states.get("done", 0) != count:
                    results.notes.append(f"{backend} x{workers}: inbox states {states}")
            with bench_hub(backend) as hub:
                seconds = reference_inserts(hub.database_url, events, 100)
            results.series_for(f"{backend} reference batched INSERTs", "ev/s").add(count / seconds)
        results.ratio(f"{backend} x1 / reference", f"{backend} worker x1", f"{backend} reference batched INSERTs")
        results.ratio(f"{backend} x2 / x1", f"{backend} worker x2", f"{backend} worker x1")
    return results
