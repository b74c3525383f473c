"""Charts of a report for the admin page and monthly reports (PNG or SVG). A bare matplotlib
Figure (no pyplot) renders without a display and without global state, so it is safe in threads."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from hub.reports.performance import Report

CHARTS = {
    "volume": ("Tickets created and open at the end", ["volume", "backlog"], "tickets"),
    "resolution": ("Business hours to resolution", ["resolution_p50_h", "resolution_p90_h"], "hours"),
    "first_response": ("Business hours to first response", ["first_response_p50_h", "first_response_p90_h"], "hours"),
    "sla": ("SLA attainment", ["first_response_attainment", "resolution_attainment"], "share met"),
    "satisfaction": ("Satisfaction (1-5)", ["satisfaction"], "mean rating"),
}
LABELS = {
    "volume": "created",
    "backlog": "open at end",
    "resolution_p50_h": "median",
    "resolution_p90_h": "90th percentile",
    "first_response_p50_h": "median",
    "first_response_p90_h": "90th percentile",
    "first_response_attainment": "first response",
    "resolution_attainment": "resolution",
    "satisfaction": "mean",
}
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def chart(report: Report, kind: str = "volume", fmt: str = "png") -> bytes:
    """A grouped bar chart of one measure per group."""
    if kind not in CHARTS:
        raise ValueError(f"no chart {kind!r}; use one of {', '.join(CHARTS)}")
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    title, columns, unit = CHARTS[kind]
    groups = [str(r["group"]) for r in report.rows]
    figure = Figure(figsize=(max(6.0, 0.9 * len(groups) + 2), 4.2), dpi=100)
    axes = figure.subplots()
    width = 0.8 / len(columns)
    for index, column in enumerate(columns):
        values = [float(r[column]) if r[column] is not None else 0.0 for r in report.rows]
        positions = [i + (index - (len(columns) - 1) / 2) * width for i in range(len(groups))]
        axes.bar(positions, values, width, label=LABELS.get(column, column))
    axes.set_xticks(range(len(groups)), groups, rotation=30 if len(groups) > 5 else 0, ha="right")
    axes.set_ylabel(unit)
    if kind == "sla":
        axes.set_ylim(0, 1)
    axes.set_title(f"{title}, by {report.group_by}\n{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}", fontsize=10)
    if len(columns) > 1:
        axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return out.getvalue()
