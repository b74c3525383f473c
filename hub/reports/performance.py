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
(group_concat, in milliseconds) and Python sorts them (see percentiles.py). On SQLite the passes
run at once on connections of their own, a wide period in ranges of the table, so each reads the
database as of its own start: a ticket that changes meanwhile counts as of one moment or the
other, as in any report taken while tickets change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Integer, case, func, literal, select, tuple_
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
    if conn.dialect.name == "sqlite":
        sums, quantiles = _sqlite_passes(conn, g, start, end)
    else:
        in_period = (M.created_at >= start) & (M.created_at < end)
        sums, _ = _grouped_pass(conn, g, in_period, durations=False)
        _add_backlog(sums, _backlog(conn, g, end))
        quantiles = _native_percentiles(conn, g, in_period)
    keys = sorted((k for k in sums if k is not TOTAL), key=str)
    rows = [_row(k, sums[k], quantiles.get(k, {})) for k in keys]
    return Report(start, end, group_by, rows, _row("all", sums[TOTAL], quantiles.get(TOTAL, {})))


Sums = dict[Any, dict[str, float]]  # group (TOTAL: all) -> additive measure -> value
Durations = dict[Any, dict[str, list[int]]]  # group -> measure -> its durations in ms, sorted
Quantiles = dict[Any, dict[str, float | None]]  # group (TOTAL: all) -> e.g. "resolution_90" -> seconds


def _grouped_pass(conn: Connection, g: ColumnElement[Any], where: Any, *, durations: bool) -> tuple[Sums, Durations]:
    """The additive measures per group in one pass; with `durations` (SQLite, which has no
    percentile function) each group's durations too, one group_concat per measure in the same
    pass (a second pass streaming them row by row cost more than the report's target). They come
    as whole milliseconds: SQLite writes integers as text faster than floats and Python reads them
    faster (the report shows hours to two decimals, 36 s)."""
    concat = [func.group_concat(func.cast(func.round(c * 1000), Integer)).label(n) for n, c in DURATIONS.items()]
    query = select(g, *(v.label(k) for k, v in SUMS.items()), *(concat if durations else [])).where(where).group_by(g)
    sums: Sums = defaultdict(lambda: defaultdict(float))
    found: Durations = defaultdict(dict)
    for row in conn.execute(query):
        for key in SUMS:
            value = float(getattr(row, key) or 0)
            sums[row.g][key] += value
            sums[TOTAL][key] += value
        for name in DURATIONS if durations else ():
            text = getattr(row, name)
            found[row.g][name] = sorted(map(int, text.split(","))) if text else []
    return sums, found


def _sqlite_passes(conn: Connection, g: ColumnElement[Any], start: datetime, end: datetime) -> tuple[Sums, Quantiles]:
    """The grouped pass and the backlog, each part on its own connection at the same time: SQLite
    computes while Python parses, on another core. A wide period is read in `PARTS` ranges of the
    table. Year over 1,000,000 tickets on a 2-core VM: 3.1-4.1 s one after another, 1.5-2.1 s so
    (bench/README.md, change 37)."""
    inside = conn.execute(select(func.count()).where(M.created_at >= start, M.created_at < end)).scalar_one()
    first, last, total = conn.execute(select(func.min(M.ticket_id), func.max(M.ticket_id), func.count())).one()
    wide = _wide(inside, total)
    column = _unindexed(M.created_at) if wide else M.created_at
    in_period = (column >= start) & (column < end)
    parts = PARTS if wide and inside >= SPLIT_AT else 1
    step = (last - first) // parts + 1 if total else 1
    tasks: list[Callable[[Connection], Any]] = [
        partial(_grouped_pass, g=g, where=in_period & M.ticket_id.between(lo, lo + step - 1), durations=True)
        for lo in (range(first, last + 1, step) if total else [0])
    ]
    *passes, backlog = _at_once(conn, [*tasks, partial(_backlog, g=g, end=end, total=total)])
    sums = _merged([part_sums for part_sums, _ in passes])
    _add_backlog(sums, backlog)
    return sums, _quantiles_of([found for _, found in passes])


# A wide period on SQLite is read in this many parts, each its own range of the table. Below
# SPLIT_AT tickets in the period one pass is quick enough.
PARTS = 2
SPLIT_AT = 50_000


def _wide(rows: int, total: int) -> bool:
    """SQLite walks an index even when the range holds most of the table (a random row lookup
    each, ~3x slower than a scan) because it has no range statistics: past this share, scan."""
    return bool(total) and rows / total > 0.3


def _unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(column, column)  # same type and value, but no index applies


def _at_once(conn: Connection, tasks: list[Callable[[Connection], Any]]) -> list[Any]:
    """Each task's result, run on connections of their own at the same time (SQLite releases the
    GIL while it computes); on an in-memory database, which is one per connection, one after
    another on `conn`."""
    if conn.engine.url.database in (None, "", ":memory:"):
        return [task(conn) for task in tasks]

    def on_own_connection(task: Callable[[Connection], Any]) -> Any:
        with conn.engine.connect() as own:
            return task(own)

    with ThreadPoolExecutor(len(tasks), thread_name_prefix="hub-report") as pool:
        return list(pool.map(on_own_connection, tasks))


def _merged(parts: list[Sums]) -> Sums:
    if len(parts) == 1:
        return parts[0]
    sums: Sums = defaultdict(lambda: defaultdict(float))
    for part in parts:
        for key, measures in part.items():
            for name, value in measures.items():
                sums[key][name] += value
    return sums


def _add_backlog(sums: Sums, backlog: dict[Any, float]) -> None:
    for key, count in backlog.items():
        sums[key]["backlog"] += count
        sums[TOTAL]["backlog"] += count


def _backlog(conn: Connection, g: ColumnElement[Any], end: datetime, total: int | None = None) -> dict[Any, float]:
    """Open at `end`: created before it and not finished by then. Two index-range counts (still
    open; finished after `end`) when few tickets are either; else one scan (a month in the middle
    of a year of 1,000,000 tickets: 1.1 s through the index, half of the table)."""
    out: dict[Any, float] = defaultdict(float)
    if total is not None:
        candidates = conn.execute(
            select(func.count()).where((M.finished_at.is_(None)) | (M.finished_at >= end))
        ).scalar_one()
        if _wide(candidates, total):
            finished = _unindexed(M.finished_at)
            query = select(g, func.count()).where(
                _unindexed(M.created_at) < end, finished.is_(None) | (finished >= end)
            )
            return {key: count for key, count in conn.execute(query.group_by(g))}
    for still_open in (M.finished_at.is_(None), M.finished_at >= end):
        for key, count in conn.execute(select(g, func.count()).where(still_open, M.created_at < end).group_by(g)):
            out[key] += count
    return out


def _native_percentiles(conn: Connection, g: ColumnElement[Any], in_period: Any) -> Quantiles:
    """PostgreSQL: percentile_cont per group and for all groups (GROUPING SETS), in one pass."""
    measures = [
        percentiles.native(column, q).label(f"{name}_{int(q * 100)}")
        for name, column in DURATIONS.items()
        for q in percentiles.QUANTILES
    ]
    query = select(func.grouping(g).label("is_total"), g, *measures).where(in_period)
    rows = conn.execute(query.group_by(func.grouping_sets(tuple_(g), tuple_()))).mappings()
    return {(TOTAL if r["is_total"] else r["g"]): dict(r) for r in rows}


def _quantiles_of(parts: list[Durations]) -> Quantiles:
    """Per group and for all groups, from each part's sorted durations of each group, read as
    one list without merging them."""
    out: Quantiles = defaultdict(dict)
    keys = {key for found in parts for key in found}
    for name in DURATIONS:
        everything: list[list[int]] = []
        for key in keys:
            runs = [found[key][name] for found in parts if found.get(key, {}).get(name)]
            everything += runs
            _quantiles(out[key], name, runs)
        _quantiles(out[TOTAL], name, everything)
    return out


def _quantiles(into: dict[str, float | None], name: str, runs: list[list[int]]) -> None:
    """From durations in milliseconds, in seconds."""
    for q in percentiles.QUANTILES:
        found = percentiles.interpolate_runs(runs, q)
        into[f"{name}_{int(q * 100)}"] = None if found is None else found / 1000


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
