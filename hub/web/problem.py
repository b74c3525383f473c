"""RFC 9457 problem documents: the one shape every error of the web endpoints takes.

`type` URIs are relative references under /problems/ (RFC 9457 allows them); `title` is fixed per
type, `detail` says what went wrong with this request and never contains a secret or a body.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from hub import jsonutil

MEDIA_TYPE = "application/problem+json"

# status -> (type slug, title); one place so the OpenAPI document and the answers agree.
TITLES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required or failed"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    411: ("length-required", "Length required"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-failed", "Request body does not match the schema"),
    500: ("internal-error", "Internal server error"),
    503: ("unavailable", "Service unavailable"),
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self, status: int, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or TITLES.get(status, ("error", "Error"))[1])
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra


def problem_document(status: int, detail: str | None, instance: str | None, **extra: Any) -> bytes:
    """The problem document's body (`instance`: the request's path)."""
    slug, title = TITLES.get(status, ("error", "Error"))
    doc: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status}
    if detail:
        doc["detail"] = detail
    doc["instance"] = instance
    doc.update(extra)
    return jsonutil.dumpb(doc)


def problem_response(
    status: int, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    body = problem_document(status, detail, request.path if request else None, **extra)
    response = Response(body, status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Every HTTP error, ours or Werkzeug's (404 route, 405, 413), becomes a problem document."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc.status, exc.detail, headers=exc.headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        detail = exc.description if status != 500 else None
        return problem_response(status, detail, headers=headers)
