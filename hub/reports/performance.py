"""How each service provider performs over a period, computed in SQL.

The cohort is the tickets created in [start, end). Per group (queue, department, channel, ...):
volume; backlog (created before `end` and not resolved or closed by then); median and 90th
percentile business hours to first response and to resolution; SLA attainment (share of decided
tickets that met the target); reopen rate (share of resolved tickets reopened at least once);
satisfaction (mean 1-5 and answers); onboarding lead time (calendar hours, request to done).

Everything comes from ticket_metrics, a narrow fact table kept current by the SLA listener, so a
report is a few aggregate queries over one table (index on created_at), no joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, case, cast, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from hub.reports import percentiles
from hub.store.tables import ticket_metrics
from hub.tickets.desk_config import DeskConfig

GROUPS = ("queue", "department", "channel", "category", "priority", "type", "total")
NONE = "(none)"
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
    if group_by == "total":
        return literal("all")
    if group_by == "department":
        mapping = {q: s.department for q, s in desk.queues.items() if s.department}
        if not mapping:
            return literal(NONE)
        return case(*((M.queue == q, d) for q, d in sorted(mapping.items())), else_=literal(NONE))
    return func.coalesce(M[group_by], literal(NONE))


def _share(hit: ColumnElement[Any], of: ColumnElement[Any]) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """Counts of rows meeting `hit` and rows meeting `of` (a ratio's two halves)."""
    return func.sum(case((hit, 1), else_=0)), func.sum(case((of, 1), else_=0))


def performance(conn: Connection, desk: DeskConfig, start: datetime, end: datetime, group_by: str = "queue") -> Report:
    rows = _rows(conn, desk, start, end, group_by)
    total = _rows(conn, desk, start, end, "total")
    return Report(start, end, group_by, rows, total[0] if total else _empty("all"))


def _rows(conn: Connection, desk: DeskConfig, start: datetime, end: datetime, group_by: str) -> list[dict[str, Any]]:
    g = group_column(desk, group_by).label("g")
    m = M
    in_period = (m.created_at >= start) & (m.created_at < end)
    fr_met, fr_decided = _share(m.first_response_met.is_(True), m.first_response_met.is_not(None))
    res_met, res_decided = _share(m.resolution_met.is_(True), m.resolution_met.is_not(None))
    ever_resolved = or_(m.resolution_seconds.is_not(None), m.reopens > 0)
    reopened, resolved = _share(m.reopens > 0, ever_resolved)
    measures: list[Any] = [
        func.count().label("volume"),
        fr_met.label("fr_met"),
        fr_decided.label("fr_decided"),
        res_met.label("res_met"),
        res_decided.label("res_decided"),
        reopened.label("reopened"),
        resolved.label("resolved"),
        func.avg(cast(m.satisfaction, Integer) * 1.0).label("satisfaction"),
        func.count(m.satisfaction).label("answers"),
    ]
    native = conn.dialect.name == "postgresql"
    if native:
        for name, column in DURATIONS.items():
            for q in percentiles.QUANTILES:
                measures.append(percentiles.native(column, q).label(f"{name}_{int(q * 100)}"))
    found = {
        r.g: r._asdict()
        for r in conn.execute(select(g, *measures).where(in_period).group_by(g)).all()
    }
    if not native:
        for name, column in DURATIONS.items():
            base = select(g, column.label("v")).where(in_period)
            for key, values in percentiles.by_ranks(conn, base).items():
                for q, value in values.items():
                    found.setdefault(key, {"g": key})[f"{name}_{int(q * 100)}"] = value
    backlog = {r[0]: int(r[1]) for r in conn.execute(_backlog(g, end))}
    keys = sorted(set(found) | set(backlog), key=str)
    return [_row(key, found.get(key, {}), backlog.get(key, 0)) for key in keys]


def _backlog(g: ColumnElement[Any], end: datetime) -> Any:
    still_open = or_(M.finished_at.is_(None), M.finished_at >= end)
    return select(g, func.count()).where(M.created_at < end, still_open).group_by(g)


def _hours(value: Any) -> float | None:
    return None if value is None else round(float(value) / 3600, 2)


def _ratio(hit: Any, of: Any) -> float | None:
    return round(float(hit) / float(of), 4) if of else None


def _row(key: Any, r: dict[str, Any], backlog: int) -> dict[str, Any]:
    return {
        "group": key,
        "volume": int(r.get("volume") or 0),
        "backlog": int(backlog),
        "first_response_p50_h": _hours(r.get("first_response_50")),
        "first_response_p90_h": _hours(r.get("first_response_90")),
        "resolution_p50_h": _hours(r.get("resolution_50")),
        "resolution_p90_h": _hours(r.get("resolution_90")),
        "first_response_attainment": _ratio(r.get("fr_met"), r.get("fr_decided")),
        "resolution_attainment": _ratio(r.get("res_met"), r.get("res_decided")),
        "reopen_rate": _ratio(r.get("reopened"), r.get("resolved")),
        "satisfaction": round(float(r["satisfaction"]), 2) if r.get("satisfaction") is not None else None,
        "satisfaction_answers": int(r.get("answers") or 0),
        "onboarding_lead_p50_h": _hours(r.get("onboarding_lead_50")),
        "onboarding_lead_p90_h": _hours(r.get("onboarding_lead_90")),
    }


def _empty(key: str) -> dict[str, Any]:
    return _row(key, {}, 0)
