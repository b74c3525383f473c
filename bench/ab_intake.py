"""Alternating A/B runs of webhook intake: `python -m bench.ab_intake [--rounds N] SPEC...`.

Each SPEC is `name=module:app[,ENV=value...]`, e.g.

    python -m bench.ab_intake bare=bench.refapp:app hub=hub.wsgi:app \\
        hub-si5ms=hub.wsgi:app,HUB_SWITCH_INTERVAL=0.005

All servers run at once (gunicorn, the intake benchmark's settings) over one throw-away SQLite hub;
wrk at 8 connections visits them in turn each round, so the machine's drift hits every variant
alike. Prints each variant's median events/s, its runs, and its ratio to the one named `bare`.
The intake changes in bench/README.md were decided with it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack

from bench.env import bench_hub
from bench.intake import signed_requests, wrk
from bench.servers import free_port, gunicorn_command, serving


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab_intake", description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("specs", nargs="+", metavar="name=module:app[,ENV=value...]")
    args = parser.parse_args(argv)
    with bench_hub("sqlite") as hub, ExitStack() as stack:
        ports: dict[str, int] = {}
        for spec in args.specs:
            name, _, rest = spec.partition("=")
            app, *settings = rest.split(",")
            env = hub.env()
            env.update(setting.split("=", 1) for setting in settings)
            port = free_port()
            stack.enter_context(serving(gunicorn_command(app, port), port, env))
            ports[name] = port
        runs: dict[str, list[float]] = {name: [] for name in ports}
        for round_ in range(args.rounds + 1):  # round 0 warms every server up and is not counted
            for name, port in ports.items():
                requests = signed_requests(hub.secret, int(6000 * args.seconds), f"ab-{name}-{time.time_ns()}")
                try:
                    doc = wrk(port, requests, args.connections, 1.0 if round_ == 0 else args.seconds)
                finally:
                    requests.unlink()
                if round_:
                    runs[name].append(doc["requests"] / (doc["duration_us"] / 1e6))
    base = statistics.median(runs["bare"]) if "bare" in runs else None
    for name, values in runs.items():
        median = statistics.median(values)
        ratio = f"  {median / base:.2f} of bare" if base else ""
        print(f"{name:24s} {median:8,.0f} ev/s  runs {', '.join(f'{v:,.0f}' for v in values)}{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
