"""Benchmark 5: resident memory of `hub serve` (all roles) idle, and its peak while it polls and
processes the 10,000-message mailbox (does polling stream, or grow with the mailbox?)."""

from __future__ import annotations

import subprocess
import time

from bench.email import count_rows, mail_instance, mailbox
from bench.env import bench_hub
from bench.servers import BIN, free_port, peak_rss_bytes, rss_bytes, serving
from bench.stats import Results
from hub.store.tables import inbox, tickets

MB = 1024 * 1024


def serve_command(port: int) -> list[str]:
    return [str(BIN / "hub"), "serve", "--port", str(port)]


def run(quick: bool = False) -> Results:
    count = 2_000 if quick else 10_000
    results = Results(f"memory (hub serve, all roles; mailbox {count:,})")
    with bench_hub("sqlite") as hub:
        port = free_port()
        with serving(serve_command(port), port, hub.env()) as proc:
            time.sleep(5)
            results.series_for("idle RSS", "MB").add(rss_bytes(proc.pid) / MB)
    try:
        with (
            mailbox(count) as (server, user),
            bench_hub("sqlite", extra_instances=mail_instance(server, user, schedule="2s")) as hub,
        ):
            port = free_port()
            with serving(serve_command(port), port, hub.env()) as proc:
                before = rss_bytes(proc.pid)
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline and count_rows(hub.database_url, tickets) < count:
                    time.sleep(1)
                results.series_for("RSS before polling", "MB").add(before / MB)
                results.series_for("peak RSS polling+processing", "MB").add(peak_rss_bytes(proc.pid) / MB)
                stored = count_rows(hub.database_url, inbox)
                if stored != count:
                    results.notes.append(f"only {stored} of {count} messages arrived within 600 s")
    except (RuntimeError, subprocess.SubprocessError) as exc:
        results.notes.append(f"mailbox part skipped: {exc}")
    return results
