"""Garbage collection settings for a long-running hub process (`hub serve`, the WSGI app).

CPython's cyclic collector runs after every 700 net allocations of container objects, and every
so often walks every object the process holds, the imported modules and SQLAlchemy's table
metadata included. A worker event allocates many short-lived dicts and rows that reference
counting frees without it, so with the defaults the worker spent ~5-10% of its time collecting
(bench/README.md, change 45). Once the process has started, what it holds is moved out of the
collector's view (`gc.freeze`) and collections run less often. Garbage that does form cycles is
still collected, a little later.
"""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default: 700). 50,000 was no faster for the
# worker and held ~20 MB more at the peak of polling a 10,000-message mailbox (121 vs 100 MB).
FIRST_GENERATION = 10_000
OLDER_GENERATIONS = 20  # young collections per middle one, middle ones per full one (10, 10)


def tune() -> None:
    """Call once the process has built what it keeps (hub, app, engine)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(FIRST_GENERATION, OLDER_GENERATIONS, OLDER_GENERATIONS)
