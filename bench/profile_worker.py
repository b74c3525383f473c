"""Profile the worker where the time goes: `python -m bench.profile_worker [options]`.

Loads a backlog of the worker benchmark's mixed events (bench/payloads.py) into a throw-away hub,
drains it in this process and prints events/s; `--statements` adds the SQL statements per event
(most frequent first), `--pyinstrument FILE` writes a call-tree profile. The figures in
bench/README.md's change log were taken with it.
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from typing import Any

from sqlalchemy import event

from bench import payloads
from bench.env import bench_hub
from bench.worker import load_inbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_worker", description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch-size", type=int, help="default: the hub's for the backend")
    parser.add_argument("--batch-time", help="e.g. 20ms, or null; default: the hub's for the backend")
    parser.add_argument("--statements", action="store_true", help="count SQL statements per event")
    parser.add_argument("--pyinstrument", metavar="FILE", help="write a pyinstrument text profile here")
    parser.add_argument(
        "--gc", choices=["tuned", "default"], default="tuned", help="tuned: as `hub serve` sets it (hub.gc_tuning)"
    )
    args = parser.parse_args(argv)
    worker = [f"batch_size: {args.batch_size}"] if args.batch_size else []
    worker += [f"batch_time: {args.batch_time}"] if args.batch_time else []
    with bench_hub(args.backend, worker=", ".join(worker)) as bh:
        load_inbox(bh.database_url, payloads.mixed(args.events))
        os.environ["HUB_DATABASE_URL"] = bh.database_url
        from hub.config import load_config
        from hub.pipeline.worker import drain
        from hub.runtime import Hub

        hub = Hub(load_config(str(bh.config)))
        if args.gc == "tuned":
            from hub import gc_tuning

            gc_tuning.tune()
        counts: collections.Counter[str] = collections.Counter()
        if args.statements:

            @event.listens_for(hub.engine, "before_cursor_execute")
            def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
                counts[" ".join(statement.split())[:100]] += 1

        profiler = None
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        began, began_cpu = time.perf_counter(), time.process_time()
        report = drain(hub)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        if profiler is not None:
            profiler.stop()
            with open(args.pyinstrument, "w") as out:
                out.write(profiler.output_text(unicode=False, color=False))
        hub.close()
    print(
        f"{report}\n{args.events / elapsed:,.0f} events/s ({elapsed:.2f} s, {args.backend}, one process; "
        f"CPU {cpu:.2f} s = {cpu / args.events * 1e6:.0f} µs per event)"
    )
    if counts:
        print(f"{sum(counts.values()) / args.events:.2f} statements per event")
        for statement, n in counts.most_common(25):
            print(f"{n / args.events:6.2f}  {statement}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
