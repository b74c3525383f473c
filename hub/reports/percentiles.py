"""Percentiles as percentile_cont computes them (linear interpolation between the closest ranks).

PostgreSQL computes them in SQL (`native`, one aggregate pass with GROUPING SETS for the total).
SQLite has no percentile function: there the report's one grouped pass also returns each group's
durations as a group_concat list, which Python parses and sorts (C code both); that beats any SQL
formulation SQLite can run (window functions sort once per measure and re-scan per group) and a
second pass streaming the rows (measured in bench/README.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.sql import ColumnElement

QUANTILES = (0.5, 0.9)


def native(value: ColumnElement[Any], q: float) -> ColumnElement[Any]:
    """percentile_cont(q) WITHIN GROUP (ORDER BY value): an aggregate, PostgreSQL only."""
    return func.percentile_cont(q).within_group(value)


def interpolate(ordered: list[float], q: float) -> float | None:
    """The q-quantile of sorted values, None for none."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] + (position - low) * (ordered[low + 1] - ordered[low])
