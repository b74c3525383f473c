"""Graph change and lifecycle notifications on /hooks/<instance>.

A notification carries no message, only that something changed: it is stored (for the record and
so a replay shows what arrived) and the instance is asked to poll, which fetches the changes
through delta. Lifecycle events ask for maintenance (reauthorize or recreate the subscription).
https://learn.microsoft.com/graph/change-notifications-delivery-webhooks
https://learn.microsoft.com/graph/change-notifications-lifecycle-events
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from hub.sdk import HttpReply, InboundRequest, RawEvent, VerificationError

LIFECYCLE_EVENTS = {"reauthorizationRequired", "subscriptionRemoved", "missed"}


def handshake(request: InboundRequest) -> HttpReply | None:
    """Subscription validation: echo the (already URL-decoded) token as text/plain within 10 s."""
    token = request.query.get("validationToken")
    if token is None:
        return None
    return HttpReply(200, token.encode("utf-8"), "text/plain; charset=utf-8")


def parse(request: InboundRequest) -> list[dict[str, Any]]:
    try:
        doc = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise VerificationError("not a Graph notification: body is not JSON") from None
    items = doc.get("value") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise VerificationError("not a Graph notification: no 'value' list")
    return items


def verify(request: InboundRequest, client_state: str) -> None:
    """Every notification in the batch must carry our clientState (constant-time compare)."""
    expected = client_state.encode("utf-8")
    for item in parse(request):
        given = str(item.get("clientState") or "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            raise VerificationError("clientState of a notification does not match this instance's secret")


def raw_events(request: InboundRequest) -> tuple[list[RawEvent], set[str]]:
    """One raw event per notification, and which upkeep the batch calls for: 'poll' (there are
    changes to fetch) and/or 'maintenance' (the subscription needs attention)."""
    events, wants = [], set()
    for item in parse(request):
        lifecycle = item.get("lifecycleEvent")
        if lifecycle:
            kind = "lifecycle"
            wants.add("maintenance")
            if lifecycle in {"subscriptionRemoved", "missed"}:
                wants.add("poll")  # changes may have been lost: catch up through delta
            key = "lifecycle:" + hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()
        else:
            kind = "notification"
            wants.add("poll")
            etag = (item.get("resourceData") or {}).get("@odata.etag", "")
            key = f"notification:{item.get('subscriptionId')}:{item.get('changeType')}:{item.get('resource')}:{etag}"
        body = orjson.dumps({k: v for k, v in item.items() if k != "clientState"})  # never store the secret
        events.append(RawEvent(key, body, {"x-m365-kind": kind}))
    return events, wants
