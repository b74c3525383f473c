"""Keeping change-notification subscriptions alive: the cure for intake that silently stops.

Stateless on purpose: the app's own subscriptions are listed from Graph and matched to what the
configuration wants by notificationUrl + resource, so a restart, a second process or a lost
database row cannot leave a subscription unmanaged. Renewed when less than half its lifetime is
left, reauthorized after a lifecycle event, recreated when gone; each expiry is reported to the
core (`hub connectors list` and alerts see it).
https://learn.microsoft.com/graph/api/resources/subscription
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.m365.graph import GraphClient, GraphError
from hub import clock
from hub.sdk import ConnectorContext, RetriableError

# No permission of its own: Graph checks the resource's read permission on create.
NEEDS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Wanted:
    label: str  # e.g. "mail" or "teams 19:abc@thread.tacv2"
    resource: str
    change_type: str
    minutes: int  # lifetime asked for; Graph caps it per resource type
    needs: tuple[str, ...]


def _same(a: str, b: str) -> bool:
    return a.strip("/").lower() == b.strip("/").lower()


def reconcile(
    graph: GraphClient,
    context: ConnectorContext,
    wanted: list[Wanted],
    notification_url: str,
    client_state: str,
    *,
    requested: bool,
) -> list[str]:
    """Bring subscriptions in line with `wanted`; returns what was done. Problems with one
    subscription do not stop the others; they are raised together at the end."""
    ours = [s for s in graph.items("subscriptions", needs=NEEDS) if s.get("notificationUrl") == notification_url]
    done, problems = [], []
    for want in wanted:
        found = next((s for s in ours if _same(s.get("resource", ""), want.resource)), None)
        try:
            expiry, what = _keep(graph, want, found, notification_url, client_state, requested)
        except (GraphError, RetriableError) as exc:
            problems.append(f"subscription for {want.label}: {exc}")
            continue
        context.report_expiry(f"subscription {want.label}", expiry)
        if what:
            done.append(f"{what} {want.label}")
    if problems:
        raise RetriableError("; ".join(problems) + " (polling with delta continues meanwhile)")
    return done


def _keep(
    graph: GraphClient, want: Wanted, found: dict[str, Any] | None, url: str, state: str, requested: bool
) -> tuple[datetime, str | None]:
    now = clock.now()
    if found is not None:
        expiry = clock.parse(found["expirationDateTime"])
        path = f"subscriptions/{found['id']}"
        if requested and expiry > now:
            response = graph.call("POST", f"{path}/reauthorize", needs=want.needs, expect=(404,))
            if response.status_code == 404:
                found = None
        if found is not None and expiry - now < timedelta(minutes=want.minutes) / 2:
            new_expiry = now + timedelta(minutes=want.minutes)
            response = graph.call(
                "PATCH", path, needs=want.needs, expect=(404,), json={"expirationDateTime": clock.isoformat(new_expiry)}
            )
            if response.status_code != 404:
                return clock.parse(response.json()["expirationDateTime"]), "renewed"
            found = None
        if found is not None:
            return expiry, "reauthorized" if requested else None
    body = {
        "changeType": want.change_type,
        "notificationUrl": url,
        "lifecycleNotificationUrl": url,
        "resource": want.resource,
        "expirationDateTime": clock.isoformat(now + timedelta(minutes=want.minutes)),
        "clientState": state,
    }
    created = graph.json("POST", "subscriptions", needs=want.needs, json=body)
    return clock.parse(created["expirationDateTime"]), "created"
