"""Benchmark 4: webhook intake on an empty store vs one holding 1,000,000 tickets (and the
1,000,000 processed inbox events that made them), generated with bulk INSERTs; and the performance
report over 1,000,000 tickets with their metrics."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

from sqlalchemy.engine import make_url

from bench import intake
from bench.env import bench_hub
from bench.stats import Results

TICKET_SQL = (
    "INSERT INTO tickets (number, type, title, description, status, priority, category, queue, channel, requester,"
    " requester_email, source, source_instance, attachments, tags, attributes, created_at, updated_at, version)"
    " VALUES (?, 'citizen_request', ?, ?, ?, 'normal', 'pothole', 'public-works', 'phone', ?, ?, ?, 'intake',"
    " '[]', '[]', '{}', ?, ?, 1)"
)
INBOX_SQL = (
    "INSERT INTO inbox (instance, dedup_key, received_at, content_type, headers, body, state, attempts,"
    " processed_at, ticket_id, available_at) VALUES ('intake', ?, ?, 'application/json', '{}', ?, 'done', 1, ?, ?, ?)"
)
STATUSES = ["new", "assigned", "in_progress", "resolved", "closed"]


def _tickets(count: int) -> Iterator[tuple[object, ...]]:
    for n in range(1, count + 1):
        at = f"2026-{1 + n % 11:02d}-{1 + n % 28:02d} 08:00:00.000000"
        email = f"caller{n % 50000}@example.org"
        yield (
            f"REQ-2026-{n:07d}",
            f"Pothole: report {n}",
            "A pothole reported by phone. " * 4,
            STATUSES[n % 5],
            f'{{"name": "Caller {n}", "email": "{email}", "kind": "citizen"}}',
            email,
            '{"instance": "intake", "connector": "webhook"}',
            at,
            at,
        )


def _inbox(count: int) -> Iterator[tuple[object, ...]]:
    for n in range(1, count + 1):
        at = f"2026-{1 + n % 11:02d}-{1 + n % 28:02d} 08:00:00.000000"
        yield (f"msg_seed_{n:08d}", at, b'{"event": "request.created"}', at, n, at)


def fill_sqlite(url: str, count: int) -> float:
    """Seconds to bulk-load `count` tickets and their inbox rows (raw sqlite3, big transactions)."""
    began = time.perf_counter()
    db = sqlite3.connect(make_url(url).database or "")
    db.execute("PRAGMA synchronous=OFF")  # the fill only; the hub under test runs with FULL
    with db:
        db.executemany(TICKET_SQL, _tickets(count))
        db.executemany(INBOX_SQL, _inbox(count))
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - began


def run(quick: bool = False) -> Results:
    stored = 100_000 if quick else 1_000_000
    results = Results(f"scale (intake at 8 connections, empty vs {stored:,} stored tickets, SQLite)")
    runs, duration = (2, 3.0) if quick else (3, 5.0)
    with bench_hub("sqlite") as hub:
        intake.run_pair(results, hub, [8], runs, duration, label="empty", ref="bare-flask (empty run)")
    with bench_hub("sqlite") as hub:
        results.series_for(f"bulk load {stored:,} tickets + inbox rows", "s").add(fill_sqlite(hub.database_url, stored))
        intake.run_pair(results, hub, [8], runs, duration, label="full", ref="bare-flask (full run)")
    # each phase against the reference measured alongside it, so drift between the phases cancels
    results.ratios["full/empty events/s (ratio of ratios to bare)"] = (
        results.ratios.get("full/bare c=8", 0) / results.ratios["empty/bare c=8"]
        if results.ratios.get("empty/bare c=8")
        else 0.0
    )
    results.ratio("full/empty events/s (raw)", "full c=8 events/s", "empty c=8 events/s")
    report_over(results, stored)
    return results


def report_over(results: Results, stored: int) -> None:
    """The performance report (every grouping, a month and a year) over `stored` tickets with
    their metrics (bench/report_bench.py builds them); the slowest one is the figure."""
    from bench import report_bench
    from hub.store.db import make_engine

    with bench_hub("sqlite") as hub:  # migrated, empty
        engine = make_engine(hub.database_url)
        results.series_for(f"build {stored:,} tickets + metrics", "s").add(report_bench.build(engine, stored))
        for _ in range(2):
            timings = report_bench.time_reports(engine)
            results.series_for(f"slowest performance report over {stored:,} tickets", "s").add(
                max(t["seconds"] for t in timings)
            )
        engine.dispose()
