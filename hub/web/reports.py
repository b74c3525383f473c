"""GET /api/v1/reports/performance (JSON or CSV) and its charts (PNG or SVG).

Query: from, to (dates in the hub's time zone, or ISO 8601 timestamps; default: the last 30
days), by (queue, department, channel, category, priority, type). Needs a token with the scope
`reports:read` (or `admin`).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from hub.app import current_hub
from hub.reports import render
from hub.reports.performance import Report, performance
from hub.reports.period import period
from hub.store.db import read
from hub.web.api.common import requires

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")
SCOPE = "reports:read"


class BadRequest(ValueError):
    pass


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> ResponseReturnValue:
    response = jsonify(type="about:blank", title="Bad Request", status=400, detail=str(exc))
    response.mimetype = "application/problem+json"
    return response, 400


def _report() -> Report:
    hub = current_hub()
    try:
        start, end = period(request.args.get("from"), request.args.get("to"), hub.settings.timezone)
        with read(hub.engine) as conn:
            return performance(conn, hub.config.desk, start, end, request.args.get("by", "queue"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


@bp.get("")
@requires(SCOPE)
def index() -> ResponseReturnValue:
    return jsonify(reports=[{"name": "performance", "href": "/api/v1/reports/performance"}])


@bp.get("/performance")
@requires(SCOPE)
def performance_report() -> ResponseReturnValue:
    report = _report()
    wants_csv = request.args.get("format") == "csv" or (
        request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    )
    if wants_csv:
        name = f"performance-{report.start:%Y%m%d}-{report.end:%Y%m%d}-{report.group_by}.csv"
        return Response(
            render.to_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return jsonify(report.as_dict())


@bp.get("/performance/chart.<fmt>")
@requires(SCOPE)
def performance_chart(fmt: str) -> ResponseReturnValue:
    from hub.reports import charts  # matplotlib is ~45 MB resident: loaded by the first chart only

    report = _report()
    try:
        image = charts.chart(report, request.args.get("kind", "volume"), fmt)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return Response(image, mimetype=charts.FORMATS[fmt], headers={"Cache-Control": "private, max-age=60"})
