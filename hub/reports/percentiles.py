"""Percentiles as percentile_cont computes them (linear interpolation between the closest ranks).

PostgreSQL computes them in SQL (`native`, one aggregate pass with GROUPING SETS for the total).
SQLite has no percentile function: there the report's one grouped pass also returns each group's
durations as a group_concat list, which Python parses and sorts (C code both); that beats any SQL
formulation SQLite can run (window functions sort once per measure and re-scan per group) and a
second pass streaming the rows (measured in bench/README.md)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql import ColumnElement

QUANTILES = (0.5, 0.9)


def native(value: ColumnElement[Any], q: float) -> ColumnElement[Any]:
    """percentile_cont(q) WITHIN GROUP (ORDER BY value): an aggregate, PostgreSQL only."""
    return func.percentile_cont(q).within_group(value)


def interpolate(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted values, None for none."""
    return _interpolated(len(ordered), q, ordered.__getitem__)


def interpolate_runs(runs: Sequence[Sequence[int]], q: float) -> float | None:
    """`interpolate` over the union of sorted runs of integers, without merging them: the two
    ranks it needs are found by bisecting the value range (each probe counts the values at most a
    candidate in every run). The SQLite report's total over 1,000,000 tickets sorted a million
    values per measure for four of them."""
    filled = [run for run in runs if run]
    if len(filled) == 1:
        return interpolate(filled[0], q)
    return _interpolated(sum(len(run) for run in filled), q, partial(_ranked, filled))


def _interpolated(size: int, q: float, value_at: Callable[[int], float]) -> float | None:
    """percentile_cont's linear interpolation between the values at the two closest ranks."""
    if not size:
        return None
    position = q * (size - 1)
    low = int(position)
    below = value_at(low)
    if low + 1 >= size:
        return below
    return below + (position - low) * (value_at(low + 1) - below)


def _ranked(runs: Sequence[Sequence[int]], rank: int) -> int:
    """The value at 0-based `rank` in the union of the sorted, non-empty runs."""
    lo = min(run[0] for run in runs)
    hi = max(run[-1] for run in runs)
    while lo < hi:  # the smallest value with more than `rank` values at most it
        mid = (lo + hi) // 2
        if sum(bisect_right(run, mid) for run in runs) > rank:
            hi = mid
        else:
            lo = mid + 1
    return lo
