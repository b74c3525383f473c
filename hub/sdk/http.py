"""The one HTTP client every connector uses: timeouts on every call, retries with exponential
backoff and full jitter that honour Retry-After, and one table saying what each status means.

Connectors never sleep or retry themselves; a wait longer than `max_wait` is handed back to the
scheduler as a RetriableError carrying the server's Retry-After, so no thread blocks for an hour.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from hub import clock
from hub.sdk.errors import FatalError, RetriableError, SkipRecord

log = logging.getLogger("hub.http")

# status -> what the runtime must do. Anything 2xx/3xx not listed is success.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
FATAL_STATUSES = frozenset({401, 403, 407})


def classify(status: int) -> str:
    """'ok', 'retry', 'fatal' (credentials/permissions) or 'skip' (this request is bad)."""
    if status in RETRY_STATUSES:
        return "retry"
    if status in FATAL_STATUSES:
        return "fatal"
    if status >= 400:
        return "skip"
    return "ok"


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None


class HttpClient:
    def __init__(
        self,
        *,
        base_url: str = "",
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_wait: float = 60.0,
        headers: dict[str, str] | None = None,
        auth: Callable[[], dict[str, str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base, self.backoff_max, self.max_wait = backoff_base, backoff_max, max_wait
        self.auth = auth
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": "service-desk-hub/0.1", **(headers or {})})

    def _url(self, url: str) -> str:
        return url if "://" in url else f"{self.base_url}/{url.lstrip('/')}"

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))

    def request(self, method: str, url: str, *, expect: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        """Send with retries. Returns 2xx/3xx and statuses listed in `expect`; raises typed errors."""
        kwargs.setdefault("timeout", self.timeout)
        full = self._url(url)
        attempt = 0
        while True:
            headers = dict(kwargs.pop("headers", None) or {})
            if self.auth:
                headers.update(self.auth())
            try:
                response = self.session.request(method, full, headers=headers, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                kwargs["headers"] = headers
                wait, reason = self._backoff(attempt), f"{type(exc).__name__} calling {method} {full}"
            else:
                kwargs["headers"] = headers
                action = classify(response.status_code)
                if response.status_code in expect or action == "ok":
                    return response
                reason = f"{method} {full} answered {response.status_code}"
                if action == "fatal":
                    raise FatalError(f"{reason}: {_error_text(response)}")
                if action == "skip":
                    raise SkipRecord(f"{reason}: {_error_text(response)}")
                advised = retry_after_seconds(response.headers.get("Retry-After"))
                wait = advised if advised is not None else self._backoff(attempt)
                if wait > self.max_wait:
                    raise RetriableError(f"{reason}; server asks to wait {wait:.0f}s", retry_after=wait)
            attempt += 1
            if attempt > self.max_retries:
                raise RetriableError(f"{reason} (gave up after {self.max_retries} retries)")
            log.info("retrying in %.2fs: %s", wait, reason)
            self.sleep(wait)

    def get_json(self, url: str, **kwargs: Any) -> Any:
        return parse_json_body(self.request("GET", url, **kwargs))

    def paginate_next_link(
        self, url: str, *, next_key: str = "@odata.nextLink", final_key: str | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Follow a next-link in the body (Graph style) until it is absent; yield each page.
        The last page also carries `final_key` (e.g. @odata.deltaLink) for the caller to keep."""
        next_url: str | None = url
        while next_url:
            page = self.get_json(next_url, **kwargs)
            yield page
            next_url = page.get(next_key)
            kwargs.pop("params", None)  # the next link already carries the query

    def paginate_link_header(self, url: str, **kwargs: Any) -> Iterator[requests.Response]:
        """Follow RFC 8288 `Link: <...>; rel="next"` headers."""
        next_url: str | None = url
        while next_url:
            response = self.request("GET", next_url, **kwargs)
            yield response
            next_url = response.links.get("next", {}).get("url")
            kwargs.pop("params", None)

    def paginate_cursor(
        self, url: str, *, cursor_param: str, cursor_key: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Pass the page's `cursor_key` back as `cursor_param` until it is empty."""
        params = dict(params or {})
        while True:
            page = self.get_json(url, params=params, **kwargs)
            yield page
            cursor = page.get(cursor_key)
            if not cursor:
                return
            params[cursor_param] = cursor

    def paginate_offset(
        self,
        url: str,
        *,
        items_key: str,
        offset_param: str = "offset",
        limit_param: str = "limit",
        limit: int = 100,
        start: int = 0,
        params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Iterator[dict[str, Any]]:
        """Offset/limit paging (SCIM's startIndex/count too, with start=1); stops on a short page."""
        params = dict(params or {})
        offset = start
        while True:
            params.update({offset_param: offset, limit_param: limit})
            page = self.get_json(url, params=params, **kwargs)
            yield page
            count = len(page.get(items_key) or [])
            if count < limit:
                return
            offset += count


def parse_json_body(response: requests.Response) -> Any:
    """The body as JSON. A malformed answer (a proxy's HTML error page, a truncated body) is
    treated as a temporary fault of the system, not a crash of the connector."""
    try:
        return response.json()
    except ValueError:
        snippet = response.text[:80].replace("\n", " ")
        raise RetriableError(f"{response.request.method} {response.url} answered malformed JSON: {snippet!r}") from None


def _error_text(response: requests.Response) -> str:
    """A short error description from the body, never the request's headers (they hold secrets)."""
    text = response.text.strip().replace("\n", " ")
    return text[:300] if text else response.reason or ""
