"""A report as CSV (spreadsheets, monthly reports) or an aligned text table (the terminal)."""

from __future__ import annotations

import csv
import io
from typing import Any

from hub.reports.performance import COLUMNS, Report


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in [*report.rows, {**report.total, "group": "TOTAL"}]:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()


SHORT = {
    "group": "group",
    "volume": "volume",
    "backlog": "backlog",
    "first_response_p50_h": "1st resp p50 h",
    "first_response_p90_h": "1st resp p90 h",
    "resolution_p50_h": "resolve p50 h",
    "resolution_p90_h": "resolve p90 h",
    "first_response_attainment": "1st resp SLA",
    "resolution_attainment": "resolve SLA",
    "reopen_rate": "reopened",
    "satisfaction": "CSAT",
    "satisfaction_answers": "answers",
    "onboarding_lead_p50_h": "onboard p50 h",
    "onboarding_lead_p90_h": "onboard p90 h",
}
PERCENT = {"first_response_attainment", "resolution_attainment", "reopen_rate"}


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column in PERCENT:
        return f"{value * 100:.1f}%"
    return str(value)


def to_text(report: Report) -> str:
    rows = [*report.rows, {**report.total, "group": "TOTAL"}]
    table = [[SHORT[c] for c in COLUMNS]] + [[_cell(c, r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        for line in table
    ]
    period = f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC, by {report.group_by}"
    return "\n".join([period, *lines])
