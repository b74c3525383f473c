"""How each service provider performs over a period, computed in SQL.

The cohort is the tickets created in [start, end). Per group (queue, department, channel, ...):
volume; backlog (created before `end` and not finished by then); median and 90th percentile
business hours to first response and to resolution; SLA attainment (share of decided tickets
that met the target); reopen rate (share of resolved tickets reopened at least once);
satisfaction (mean 1-5 and answers); onboarding lead time (calendar hours, request to done).

Everything comes from ticket_metrics, a narrow fact table kept current by the SLA listener, so a
report is a few aggregate queries over one table (indexes on created_at and finished_at), no joins.
Additive measures are summed per group in SQL and the total is their sum; percentiles come from
percentile_cont on PostgreSQL; on SQLite the sums query also returns each group's durations
(group_concat) and Python sorts them (see percentiles.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, literal, select, tuple_
from sqlalchemy.sql import ColumnElement

from hub.reports import percentiles
from hub.store.tables import ticket_metrics
from hub.tickets.desk_config import DeskConfig

GROUPS = ("queue", "department", "channel", "category", "priority", "type")
NONE = "(none)"
TOTAL = object()  # key of the all-groups row
COLUMNS = [
    "group",
    "volume",
    "backlog",
    "first_response_p50_h",
    "first_response_p90_h",
    "resolution_p50_h",
    "resolution_p90_h",
    "first_response_attainment",
    "resolution_attainment",
    "reopen_rate",
    "satisfaction",
    "satisfaction_answers",
    "onboarding_lead_p50_h",
    "onboarding_lead_p90_h",
]
M = ticket_metrics.c
DURATIONS = {
    "first_response": M.first_response_seconds,
    "resolution": M.resolution_seconds,
    "onboarding_lead": case((M.type == "onboarding", M.lead_seconds)),
}


@dataclass
class Report:
    start: datetime
    end: datetime
    group_by: str
    rows: list[dict[str, Any]]
    total: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        from hub.clock import isoformat

        return {
            "from": isoformat(self.start),
            "to": isoformat(self.end),
            "group_by": self.group_by,
            "columns": COLUMNS,
            "rows": self.rows,
            "total": self.total,
        }


def group_column(desk: DeskConfig, group_by: str) -> ColumnElement[Any]:
    if group_by not in GROUPS:
        raise ValueError(f"cannot group by {group_by!r}; use one of {', '.join(GROUPS)}")
    if group_by == "department":
        mapping = {q: s.department for q, s in desk.queues.items() if s.department}
        if not mapping:
            return literal(NONE)
        return case(*((M.queue == q, d) for q, d in sorted(mapping.items())), else_=literal(NONE))
    return func.coalesce(M[group_by], literal(NONE))


def _count_if(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


SUMS = {
    "volume": func.count(),
    "fr_met": _count_if(M.first_response_met.is_(True)),
    "fr_decided": _count_if(M.first_response_met.is_not(None)),
    "res_met": _count_if(M.resolution_met.is_(True)),
    "res_decided": _count_if(M.resolution_met.is_not(None)),
    "reopened": _count_if(M.reopens > 0),
    "resolved": _count_if((M.resolution_seconds.is_not(None)) | (M.reopens > 0)),
    "sat_sum": func.sum(M.satisfaction),
    "answers": func.count(M.satisfaction),
}


def performance(conn: Connection, desk: DeskConfig, start: datetime, end: datetime, group_by: str = "queue") -> Report:
    g = group_column(desk, group_by).label("g")
    in_period = _in_period(conn, start, end)
    sums: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sqlite = conn.dialect.name == "sqlite"
    # SQLite: the period's durations come with the sums, one group_concat per measure, in the same
    # pass (a second pass streaming them row by row cost more than the report's target).
    durations = [func.group_concat(column).label(name) for name, column in DURATIONS.items()] if sqlite else []
    found: dict[Any, dict[str, list[float]]] = defaultdict(dict)
    query = select(g, *(v.label(k) for k, v in SUMS.items()), *durations).where(in_period).group_by(g)
    for row in conn.execute(query):
        for key in SUMS:
            value = float(getattr(row, key) or 0)
            sums[row.g][key] += value
            sums[TOTAL][key] += value
        for name in DURATIONS if sqlite else ():
            text = getattr(row, name)
            found[row.g][name] = sorted(map(float, text.split(","))) if text else []
    for key, count in _backlog(conn, g, end).items():
        sums[key]["backlog"] += count
        sums[TOTAL]["backlog"] += count
    quantiles = _quantiles_of(found) if sqlite else _native_percentiles(conn, g, in_period)
    keys = sorted((k for k in sums if k is not TOTAL), key=str)
    rows = [_row(k, sums[k], quantiles.get(k, {})) for k in keys]
    return Report(start, end, group_by, rows, _row("all", sums[TOTAL], quantiles.get(TOTAL, {})))


def _in_period(conn: Connection, start: datetime, end: datetime) -> ColumnElement[bool]:
    """created_at in [start, end). SQLite walks the created_at index even when the period holds
    most of the table (a random row lookup each, ~3x slower than a scan) because it has no range
    statistics; for wide periods the column is wrapped so that it scans instead."""
    column: ColumnElement[Any] = M.created_at
    if conn.dialect.name == "sqlite":
        inside = conn.execute(select(func.count()).where(M.created_at >= start, M.created_at < end)).scalar_one()
        total = conn.execute(select(func.count()).select_from(ticket_metrics)).scalar_one()
        if total and inside / total > 0.3:
            column = func.coalesce(M.created_at, M.created_at)  # same type and value, no index
    return (column >= start) & (column < end)


def _backlog(conn: Connection, g: ColumnElement[Any], end: datetime) -> dict[Any, float]:
    """Open at `end`: two index-range counts (still open; finished after `end`) instead of one scan."""
    out: dict[Any, float] = defaultdict(float)
    for still_open in (M.finished_at.is_(None), M.finished_at >= end):
        for key, count in conn.execute(select(g, func.count()).where(still_open, M.created_at < end).group_by(g)):
            out[key] += count
    return out


def _native_percentiles(conn: Connection, g: ColumnElement[Any], in_period: Any) -> dict[Any, dict[str, float | None]]:
    """PostgreSQL: percentile_cont per group and for all groups (GROUPING SETS), in one pass."""
    measures = [
        percentiles.native(column, q).label(f"{name}_{int(q * 100)}")
        for name, column in DURATIONS.items()
        for q in percentiles.QUANTILES
    ]
    query = select(func.grouping(g).label("is_total"), g, *measures).where(in_period)
    rows = conn.execute(query.group_by(func.grouping_sets(tuple_(g), tuple_()))).mappings()
    return {(TOTAL if r["is_total"] else r["g"]): dict(r) for r in rows}


def _quantiles_of(found: dict[Any, dict[str, list[float]]]) -> dict[Any, dict[str, float | None]]:
    """Per group and for all groups, from each group's sorted durations (the total's list is the
    groups' sorted lists concatenated: timsort merges the runs)."""
    out: dict[Any, dict[str, float | None]] = defaultdict(dict)
    for name in DURATIONS:
        everything: list[float] = []
        for key, per_name in found.items():
            ordered = per_name.get(name, [])
            everything += ordered
            _quantiles(out[key], name, ordered)
        everything.sort()
        _quantiles(out[TOTAL], name, everything)
    return out


def _quantiles(into: dict[str, float | None], name: str, ordered: list[float]) -> None:
    for q in percentiles.QUANTILES:
        into[f"{name}_{int(q * 100)}"] = percentiles.interpolate(ordered, q)


def _hours(value: Any) -> float | None:
    return None if value is None else round(float(value) / 3600, 2)


def _ratio(hit: float, of: float) -> float | None:
    return round(hit / of, 4) if of else None


def _row(key: Any, s: dict[str, float], q: dict[str, Any]) -> dict[str, Any]:
    return {
        "group": key,
        "volume": int(s["volume"]),
        "backlog": int(s["backlog"]),
        "first_response_p50_h": _hours(q.get("first_response_50")),
        "first_response_p90_h": _hours(q.get("first_response_90")),
        "resolution_p50_h": _hours(q.get("resolution_50")),
        "resolution_p90_h": _hours(q.get("resolution_90")),
        "first_response_attainment": _ratio(s["fr_met"], s["fr_decided"]),
        "resolution_attainment": _ratio(s["res_met"], s["res_decided"]),
        "reopen_rate": _ratio(s["reopened"], s["resolved"]),
        "satisfaction": round(s["sat_sum"] / s["answers"], 2) if s["answers"] else None,
        "satisfaction_answers": int(s["answers"]),
        "onboarding_lead_p50_h": _hours(q.get("onboarding_lead_50")),
        "onboarding_lead_p90_h": _hours(q.get("onboarding_lead_90")),
    }
