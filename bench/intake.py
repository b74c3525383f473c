"""Benchmark 1: signed webhook events posted by wrk to the hub's web role under gunicorn, side by
side with a bare Flask endpoint under the same gunicorn settings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import orjson

from bench import payloads
from bench.env import BenchHub, bench_hub
from bench.servers import gunicorn_command, serving
from bench.stats import Results
from hub.web.verify import build_verifier

LUA = Path(__file__).with_name("wrk_signed.lua")


def signed_requests(secret: str, count: int, prefix: str) -> Path:
    """A file of `count` pre-signed requests with unique webhook ids (wrk cannot HMAC in Lua)."""
    verifier = build_verifier({"scheme": "standard_webhooks", "secret": secret})
    fd, name = tempfile.mkstemp(prefix="hub-bench-req-", suffix=".tsv")
    with os.fdopen(fd, "wb") as out:
        for n in range(count):
            body = orjson.dumps(payloads.create(n))
            h = verifier.sign(body, msg_id=f"{prefix}-{n}")
            out.write(f"{h['webhook-id']}\t{h['webhook-timestamp']}\t{h['webhook-signature']}\t".encode())
            out.write(body + b"\n")
    return Path(name)


def wrk(port: int, requests_file: Path, connections: int, duration: float) -> dict[str, float]:
    threads = min(connections, 2)
    env = {**os.environ, "BENCH_REQUESTS": str(requests_file), "BENCH_THREADS": str(threads)}
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(duration))}s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    line = next(raw for raw in reversed(out.splitlines()) if raw.startswith("{"))
    doc: dict[str, float] = json.loads(line)
    return doc


def measure(
    results: Results,
    label: str,
    port: int,
    secret: str,
    connections: list[int],
    runs: int,
    duration: float,
    max_rate: int = 6000,
) -> None:
    """Runs wrk `runs` times per connection count against what listens on `port`."""
    for c in connections:
        for run in range(runs):
            count = int(max_rate * duration * 1.3) + 1000
            file = signed_requests(secret, count, f"{label}-{c}-{run}-{time.time_ns()}")
            try:
                doc = wrk(port, file, c, duration)
            finally:
                file.unlink()
            seconds = doc["duration_us"] / 1e6
            bad = doc["connect"] + doc["read"] + doc["write"] + doc["status"] + doc["timeout"]
            results.series_for(f"{label} c={c} events/s", "ev/s").add(doc["requests"] / seconds)
            results.series_for(f"{label} c={c} p50", "ms").add(doc["p50_us"] / 1000)
            results.series_for(f"{label} c={c} p99", "ms").add(doc["p99_us"] / 1000)
            if bad:
                results.notes.append(f"{label} c={c} run {run}: {bad} failed requests {doc}")
            if doc["requests"] > count:
                results.notes.append(f"{label} c={c} run {run}: requests repeated (duplicates answered 200)")


def run_pair(
    results: Results,
    hub: BenchHub,
    connections: list[int],
    runs: int,
    duration: float,
    label: str = "hub",
    ref: str = "bare-flask",
) -> None:
    """Hub and reference, alternating per round so drifting machine noise hits both."""
    hub_port, ref_port = 18081, 18082
    with (
        serving(gunicorn_command("hub.wsgi:app", hub_port), hub_port, hub.env()),
        serving(gunicorn_command("bench.refapp:app", ref_port), ref_port, hub.env()),
    ):
        measure(Results("warmup"), label, hub_port, hub.secret, [8], 1, 1.0)
        measure(Results("warmup"), "ref", ref_port, hub.secret, [8], 1, 1.0)
        for _ in range(runs):
            measure(results, label, hub_port, hub.secret, connections, 1, duration)
            measure(results, ref, ref_port, hub.secret, connections, 1, duration)
    for c in connections:
        results.ratio(f"{label}/bare c={c}", f"{label} c={c} events/s", f"{ref} c={c} events/s")


def run(quick: bool = False) -> Results:
    if shutil.which("wrk") is None:
        results = Results("intake")
        results.notes.append("skipped: wrk is not installed (apt-get install wrk)")
        return results
    results = Results("intake (SQLite, gunicorn gthread)")
    with bench_hub("sqlite") as hub:
        run_pair(results, hub, [1, 8, 32], runs=2 if quick else 3, duration=3.0 if quick else 5.0)
    return results
