"""Percentiles in SQL, per group: percentile_cont on PostgreSQL; on SQLite (no percentile
function) ranks from window functions, reading only the two rows around each percentile and
interpolating between them exactly as percentile_cont does."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection, Float, Integer, cast, func, literal, or_, select, union_all
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
    g, v = source.c.g, source.c.v
    ranked = (
        select(
            g.label("g"),
            v.label("v"),
            func.row_number().over(partition_by=g, order_by=v).label("rn"),
            func.count().over(partition_by=g).label("n"),
        )
        .where(v.is_not(None))
        .subquery("ranked")
    )
    qs = union_all(*(select(literal(q, Float).label("q")) for q in quantiles)).subquery("qs")
    pos = 1 + qs.c.q * (ranked.c.n - 1)
    # floor(): PostgreSQL's cast rounds; SQLite may lack floor() but its cast truncates (pos > 0)
    low = cast(func.floor(pos), Integer) if conn.dialect.name == "postgresql" else cast(pos, Integer)
    query = (
        select(
            ranked.c.g,
            qs.c.q,
            func.max(ranked.c.v).filter(ranked.c.rn == low).label("lo"),
            func.max(ranked.c.v).filter(ranked.c.rn == low + 1).label("hi"),
            func.max(pos - low).label("frac"),
        )
        .select_from(ranked.join(qs, literal(True)))
        .where(or_(ranked.c.rn == low, ranked.c.rn == low + 1))
        .group_by(ranked.c.g, qs.c.q)
    )
    out: dict[Any, dict[float, float | None]] = {}
    for row in conn.execute(query):
        lo, hi, frac = row.lo, row.hi, float(row.frac or 0.0)
        value = None if lo is None else float(lo) + (frac * (float(hi) - float(lo)) if hi is not None else 0.0)
        q = min(quantiles, key=lambda given: math.fabs(given - float(row.q)))  # 0.9000000000000001
        out.setdefault(row.g, {})[q] = value
    return out
