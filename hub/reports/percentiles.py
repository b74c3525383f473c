"""Percentiles in SQL, per group: percentile_cont on PostgreSQL; on SQLite (no percentile
function) one window-function pass ranks the values per group and returns only the rows around
each percentile, which are then interpolated exactly as percentile_cont does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, cast, func, or_, select
from sqlalchemy.sql import ColumnElement, Select

QUANTILES = (0.5, 0.9)


def native(value: ColumnElement[Any], q: float) -> ColumnElement[Any]:
    """percentile_cont(q) WITHIN GROUP (ORDER BY value): an aggregate, PostgreSQL only."""
    return func.percentile_cont(q).within_group(value)


def by_ranks(
    conn: Connection, base: Select[Any], quantiles: tuple[float, ...] = QUANTILES
) -> dict[Any, dict[float, float | None]]:
    """`base` selects (g, v) rows; returns {g: {q: percentile of v}} ignoring NULL values."""
    source = base.subquery("source")
    ranked = (
        select(
            source.c.g,
            source.c.v,
            func.row_number().over(partition_by=source.c.g, order_by=source.c.v).label("rn"),
            func.count().over(partition_by=source.c.g).label("n"),
        )
        .where(source.c.v.is_not(None))
        .subquery("ranked")
    )
    wanted = []
    for q in quantiles:
        low = _floor(conn, 1 + q * (ranked.c.n - 1))
        wanted += [ranked.c.rn == low, ranked.c.rn == low + 1]
    rows = conn.execute(select(ranked.c.g, ranked.c.v, ranked.c.rn, ranked.c.n).where(or_(*wanted))).all()
    values: dict[Any, dict[int, float]] = {}
    counts: dict[Any, int] = {}
    for g, v, rn, n in rows:
        values.setdefault(g, {})[int(rn)] = float(v)
        counts[g] = int(n)
    return {g: {q: _interpolate(values[g], counts[g], q) for q in quantiles} for g in values}


def _floor(conn: Connection, value: ColumnElement[Any]) -> ColumnElement[Any]:
    # PostgreSQL's cast rounds; SQLite may lack floor() but its cast truncates (value > 0)
    return cast(func.floor(value), Integer) if conn.dialect.name == "postgresql" else cast(value, Integer)


def _interpolate(ranked: dict[int, float], n: int, q: float) -> float:
    position = 1 + q * (n - 1)
    low = int(position)
    below, above = ranked[low], ranked.get(low + 1)
    return below if above is None else below + (position - low) * (above - below)
