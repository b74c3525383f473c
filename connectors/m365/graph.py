"""Microsoft Graph calls: the hub's HttpClient (timeouts, retries, Retry-After on 429/503/504)
plus what is particular to Graph: a bearer token refreshed once on 401, and 403 reported as the
application permission the call needs, since Graph's own 403 body never names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from connectors.m365.auth import TokenProvider
from hub.sdk import FatalError, SkipRecord
from hub.sdk.http import HttpClient

GRAPH = "https://graph.microsoft.com/v1.0"


class GraphError(SkipRecord):
    """Graph refused this one request (4xx other than auth); `code` is Graph's error code."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def error_of(response: requests.Response) -> tuple[str, str]:
    """(code, message) from Graph's error body: {"error": {"code": ..., "message": ...}}."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return "", response.text[:200]
    if isinstance(error, str):  # token endpoint style
        return error, ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def seg(value: str) -> str:
    """A user id, UPN or other key as one URL path segment."""
    return quote(str(value), safe="@")


class GraphClient:
    def __init__(self, http: HttpClient, auth: TokenProvider, base_url: str = GRAPH) -> None:
        self.http = http
        self.auth = auth
        self.base_url = base_url.rstrip("/")

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"

    def call(
        self, method: str, path: str, *, needs: tuple[str, ...], expect: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """Send one request. Returns 2xx and statuses in `expect`; raises FatalError (auth,
        permissions), GraphError (other 4xx) or the HttpClient's RetriableError."""
        url = self.url(path)
        extra = dict(kwargs.pop("headers", None) or {})
        for attempt in (1, 2):
            headers = {**extra, **self.auth.headers()}
            response = self.http.request(
                method, url, expect=(400, 401, 403, 404, 409, 410, 412), headers=headers, **kwargs
            )
            if response.status_code == 401 and attempt == 1:
                self.auth.invalidate()  # the token was revoked or rotated early: fetch a new one once
                continue
            break
        status = response.status_code
        if status < 400 or status in expect:
            return response
        code, message = error_of(response)
        where = f"{method} {url.split('?')[0]}"
        if status == 401:
            raise FatalError(f"Microsoft Graph rejected a fresh token for {where} ({code}: {message})")
        if status == 403:
            wanted = " or ".join(needs) if needs else "a permission this call needs"
            raise FatalError(
                f"Microsoft Graph denied {where} (403 {code}: {message}). The app registration needs the "
                f"application permission {wanted}, with admin consent granted"
            )
        raise GraphError(f"{where} answered {status} {code}: {message}".strip(), status, code)

    def json(self, method: str, path: str, *, needs: tuple[str, ...], **kwargs: Any) -> Any:
        response = self.call(method, path, needs=needs, **kwargs)
        return response.json() if response.content else {}

    def pages(self, path: str, *, needs: tuple[str, ...], **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Follow @odata.nextLink (the link carries the query; headers are sent again)."""
        next_url: str | None = path
        while next_url:
            page = self.json("GET", next_url, needs=needs, **kwargs)
            yield page
            next_url = page.get("@odata.nextLink")
            kwargs.pop("params", None)

    def items(self, path: str, *, needs: tuple[str, ...], **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self.pages(path, needs=needs, **kwargs):
            yield from page.get("value") or []
