"""Delta query rounds over several sources, one page per poll() call.

The cursor is {"links": {source: nextLink or deltaLink}, "pending": [sources left this round]}.
Follow @odata.nextLink until @odata.deltaLink, keep the link as the cursor (the core saves it in
the same transaction as the page's events). An expired state token (410, or 400
syncStateNotFound) drops the source's link: the next page starts a full resync, and because raw
events are keyed by content, what was already received is acknowledged and ignored.
https://learn.microsoft.com/graph/delta-query-overview
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.m365.graph import GraphClient, GraphError, error_of
from hub.sdk import FatalError, PollResult, RawEvent

log = logging.getLogger("hub.connector.m365")
EXPIRED_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}


@dataclass
class Source:
    key: str
    url: str  # the initial delta URL, relative to Graph
    needs: tuple[str, ...]
    to_events: Callable[[list[dict[str, Any]]], list[RawEvent]]
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def fetch(graph: GraphClient, url: str, source: Source, params: dict[str, str] | None) -> dict[str, Any] | None:
    """One delta page, or None when the state token expired. Any other refusal (a mailbox, folder
    or channel that does not exist, a bad `since`) is a configuration problem of the instance."""
    try:
        response = graph.call("GET", url, needs=source.needs, expect=(400, 410), headers=source.headers, params=params)
    except GraphError as exc:
        raise FatalError(f"{source.key}: {exc}") from None
    if response.status_code in (400, 410):
        code, message = error_of(response)
        if response.status_code == 410 or code.lower() in EXPIRED_CODES:
            return None
        raise FatalError(f"{source.key}: GET {url.split('?')[0]} answered 400 {code}: {message}")
    page: dict[str, Any] = response.json()
    return page


def poll_round(graph: GraphClient, sources: list[Source], cursor: Any) -> PollResult:
    state = dict(cursor or {})
    links: dict[str, str] = dict(state.get("links") or {})
    keys = [s.key for s in sources]
    pending = [k for k in state.get("pending") or [] if k in keys] or keys
    if not sources:
        return PollResult([], {"links": links, "pending": []})
    source = next(s for s in sources if s.key == pending[0])
    link = links.get(source.key)
    page = fetch(graph, link or source.url, source, None if link else source.params)
    if page is None:
        log.warning("delta token of %s expired: full resync (already received items are skipped)", source.key)
        links.pop(source.key, None)
        return PollResult([], {"links": links, "pending": pending, "resyncs": _count(state, source.key)}, more=True)
    events = source.to_events(list(page.get("value") or []))
    if page.get("@odata.nextLink"):
        links[source.key] = page["@odata.nextLink"]
        return PollResult(events, {**state, "links": links, "pending": pending}, more=True)
    links[source.key] = page.get("@odata.deltaLink") or link or ""
    rest = pending[1:]
    return PollResult(events, {**state, "links": links, "pending": rest}, more=bool(rest))


def _count(state: dict[str, Any], key: str) -> dict[str, int]:
    """How often each source had to resync: visible in the stored cursor for an admin."""
    counts = dict(state.get("resyncs") or {})
    counts[key] = int(counts.get(key, 0)) + 1
    return counts
