"""Benchmark (not a test): build N tickets with their metrics and time the performance report.

    .venv/bin/python -m bench.report_bench                       # SQLite file, 1,000,000 tickets
    .venv/bin/python -m bench.report_bench --url postgresql://root@127.0.0.1/test --tickets 1000000

The database must be empty or disposable: the script migrates it and appends tickets. Results
(timings per grouping and period, backend, row counts) go to bench/results/<date>-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from hub.reports.performance import performance
from hub.store.db import make_engine
from hub.store.migrate import upgrade
from hub.store.tables import ticket_metrics, tickets
from hub.tickets.desk_config import DeskConfig, QueueSettings

QUEUES = ["public-works", "parks", "water", "finance", "it", "hr", "permits", "triage"]
DEPARTMENTS = {"public-works": "Public Works", "parks": "Parks", "water": "Utilities", "it": "IT", "hr": "HR"}
CHANNELS = ["email", "phone", "web", "open311", "teams", "api"]
STATUSES = ["resolved"] * 6 + ["closed"] * 2 + ["new", "in_progress", "waiting_on_requester"]
START = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 5000


def build(engine: Engine, count: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    began = time.perf_counter()
    with engine.connect() as conn:
        first_id = (conn.execute(select(func.max(tickets.c.id))).scalar() or 0) + 1
    for offset in range(0, count, BATCH):
        rows, metrics = [], []
        for i in range(offset, min(count, offset + BATCH)):
            ticket_id = first_id + i
            created = START + timedelta(seconds=rng.randrange(0, 365 * 86400))
            status = rng.choice(STATUSES)
            final = status in ("resolved", "closed")
            lead = rng.expovariate(1 / (3 * 86400)) if final else None
            row = _ticket(ticket_id, created, status, lead, rng)
            rows.append(row)
            metrics.append({**_metrics(ticket_id, final, rng, lead), **_copies(row)})
        with engine.begin() as conn:
            conn.execute(insert(tickets), rows)
            conn.execute(insert(ticket_metrics), metrics)
        print(f"\r{offset + len(rows):>9,} tickets", end="", flush=True)
    print()
    return time.perf_counter() - began


def _ticket(ticket_id: int, created: datetime, status: str, lead: float | None, rng: random.Random) -> dict[str, Any]:
    done = created + timedelta(seconds=lead) if lead is not None else None
    return {
        "id": ticket_id,
        "number": f"BEN-{created.year}-{ticket_id:07d}",
        "type": "onboarding" if rng.random() < 0.02 else "citizen_request",
        "title": "benchmark ticket",
        "description": "",
        "status": status,
        "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
        "category": rng.choice(["pothole", "streetlight", "graffiti", "billing", "access"]),
        "queue": rng.choice(QUEUES),
        "channel": rng.choice(CHANNELS),
        "requester": {"kind": "citizen"},
        "source": {"instance": "bench"},
        "source_instance": "bench",
        "attachments": [],
        "tags": [],
        "attributes": {},
        "created_at": created,
        "updated_at": done or created,
        "resolved_at": done if status == "resolved" else None,
        "closed_at": done if status == "closed" else None,
        "version": 1,
    }


def _copies(row: dict[str, Any]) -> dict[str, Any]:
    """The grouping columns the SLA listener copies into ticket_metrics."""
    keys = ("created_at", "queue", "channel", "category", "priority", "type")
    return {**{k: row[k] for k in keys}, "finished_at": row["resolved_at"] or row["closed_at"]}


def _metrics(ticket_id: int, final: bool, rng: random.Random, lead: float | None) -> dict[str, Any]:
    first = rng.expovariate(1 / 7200)
    resolution = rng.expovariate(1 / (16 * 3600)) if final else None
    return {
        "ticket_id": ticket_id,
        "first_response_seconds": first,
        "resolution_seconds": resolution,
        "lead_seconds": lead,
        "first_response_met": first <= 4 * 3600,
        "resolution_met": (resolution <= 40 * 3600) if resolution is not None else None,
        "reopens": 1 if rng.random() < 0.05 else 0,
        "satisfaction": rng.randint(1, 5) if final and rng.random() < 0.2 else None,
    }


def time_reports(engine: Engine) -> list[dict[str, Any]]:
    desk = DeskConfig(queues={q: QueueSettings(department=d) for q, d in DEPARTMENTS.items()})
    periods = {"month": (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)),
               "year": (START, START + timedelta(days=365))}  # fmt: skip
    out = []
    for label, (start, end) in periods.items():
        for group_by in ("queue", "department", "channel"):
            with engine.connect() as conn:
                began = time.perf_counter()
                report = performance(conn, desk, start, end, group_by)
                seconds = time.perf_counter() - began
            out.append({"period": label, "group_by": group_by, "seconds": round(seconds, 3),
                        "groups": len(report.rows), "volume": report.total["volume"]})  # fmt: skip
            print(f"{label:>5} by {group_by:<10} {seconds:7.3f}s  ({report.total['volume']:,} tickets)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="sqlite:////tmp/hub-report-bench.db")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="Time the reports on the tickets already there.")
    args = parser.parse_args()
    engine = make_engine(args.url)
    upgrade(engine)
    build_seconds = None if args.reuse else round(build(engine, args.tickets), 1)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(tickets)).scalar_one()
    timings = time_reports(engine)
    result = {
        "date": date.today().isoformat(),
        "backend": engine.dialect.name,
        "server_version": ".".join(map(str, engine.dialect.server_version_info or ())),
        "tickets": total,
        "build_seconds": build_seconds,
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "reports": timings,
    }
    folder = Path(__file__).parent / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{result['date']}-{result['backend']}.json"
    if build_seconds is None and path.exists():  # --reuse: keep the build time of the run that built them
        result["build_seconds"] = json.loads(path.read_text()).get("build_seconds")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
