"""`python -m bench [NAME...] [--quick]`: run benchmarks side by side with their references, print
a table and write bench/results/<date>.json."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = ["intake", "worker", "email", "scale", "memory", "storm"]
RESULTS = Path(__file__).with_name("results")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="fewer events and runs (a smoke test)")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<date>.json)")
    args = parser.parse_args(argv)
    names = args.names or BENCHMARKS
    doc: dict[str, object] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": _cpus()},
        "quick": args.quick,
        "benchmarks": {},
    }
    out = args.out or RESULTS / f"{datetime.now(UTC):%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        results = module.run(quick=args.quick)
        doc["benchmarks"][name] = {**results.to_json(), "seconds": round(time.monotonic() - started, 1)}  # type: ignore[index]
        print(results.table(), flush=True)
        out.write_text(json.dumps(doc, indent=2))
    print(f"results: {out}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
