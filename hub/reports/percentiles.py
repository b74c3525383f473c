"""Percentiles as percentile_cont computes them (linear interpolation between the closest ranks).

PostgreSQL computes them in SQL (`native`, one aggregate pass with GROUPING SETS for the total).
SQLite has no percentile function: there the report's one grouped pass also returns each group's
durations as a group_concat list, which Python parses and sorts (C code both); that beats any SQL
formulation SQLite can run (window functions sort once per measure and re-scan per group) and a
second pass streaming the rows (measured in bench/README.md)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql import ColumnElement

QUANTILES = (0.5, 0.9)


def native(value: ColumnElement[Any], q: float) -> ColumnElement[Any]:
    """percentile_cont(q) WITHIN GROUP (ORDER BY value): an aggregate, PostgreSQL only."""
    return func.percentile_cont(q).within_group(value)


def interpolate(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted values, None for none."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] + (position - low) * (ordered[low + 1] - ordered[low])


def interpolate_runs(runs: Sequence[Sequence[int]], q: float) -> float | None:
    """`interpolate` over the union of sorted runs of integers, without merging them: the two
    ranks it needs are found by bisecting the value range (each probe counts the values at most a
    candidate in every run). The SQLite report's total over 1,000,000 tickets sorted a million
    values per measure for four of them."""
    size = sum(len(run) for run in runs)
    if not size:
        return None
    position = q * (size - 1)
    low = int(position)
    below = _ranked(runs, low)
    if low + 1 >= size:
        return float(below)
    above = _ranked(runs, low + 1)
    return below + (position - low) * (above - below)


def _ranked(runs: Sequence[Sequence[int]], rank: int) -> int:
    """The value at 0-based `rank` in the union of the sorted runs."""
    lo = min(run[0] for run in runs if run)
    hi = max(run[-1] for run in runs if run)
    while lo < hi:  # the smallest value with more than `rank` values at most it
        mid = (lo + hi) // 2
        if sum(bisect_right(run, mid) for run in runs) > rank:
            hi = mid
        else:
            lo = mid + 1
    return lo
