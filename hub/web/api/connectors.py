"""/api/v1/connectors: configured instances with their health: last success, lag, failures,
circuit states, time to credential/subscription expiry, open problems, event counts."""

from __future__ import annotations

from typing import Any

from flask import Response

from hub import clock
from hub.app import current_hub
from hub.config import InstanceConfig
from hub.health import InstanceHealth, assess
from hub.pipeline import state as instance_state
from hub.pipeline.events import STATES, counts
from hub.sdk.connector import PushConnector
from hub.store.db import read
from hub.web.api import bp
from hub.web.api.common import json_response, requires
from hub.web.problem import Problem


def _ts(value: Any) -> str | None:
    return clock.isoformat(value) if value else None


def _document(
    inst: InstanceConfig, st: Any, totals: dict[tuple[str, str], int], health: InstanceHealth
) -> dict[str, Any]:
    hub = current_hub()
    now = clock.now()
    expiry = health.next_expiry()
    pushed = issubclass(type(hub.connector(inst.id)), PushConnector)
    schedule = inst.schedule or {}
    return {
        "id": inst.id,
        "connector": inst.connector,
        "description": inst.description,
        "enabled": inst.enabled,
        "kind": "push" if pushed else "poll",
        "schedule": schedule.get("every") or schedule.get("cron"),
        "webhook_path": f"/hooks/{inst.id}" if pushed else None,
        "verify": (inst.verify or {}).get("scheme") if pushed else None,
        "state": {
            "last_poll_at": _ts(st.last_poll_at) if st else None,
            "last_success_at": _ts(st.last_success_at) if st else None,
            "last_error": st.last_error if st else None,
            "last_error_at": _ts(st.last_error_at) if st else None,
            "cursor": st.cursor if st else None,
            "expiries": (st.expiries or {}) if st else {},
        },
        "health": {
            "last_event_at": _ts(health.last_event_at),
            "lag_seconds": health.lag_seconds(now),
            "failures": health.failures,
            "circuit_in": health.circuit_in,
            "circuit_out": health.circuit_out,
            "seconds_to_expiry": (expiry[1] - now).total_seconds() if expiry else None,
            "problems": health.problems,
        },
        "events": {state: totals.get((inst.id, state), 0) for state in STATES},
    }


def _snapshot() -> tuple[dict[str, Any], dict[tuple[str, str], int], dict[str, InstanceHealth]]:
    hub = current_hub()
    with read(hub.engine) as conn:
        states, totals = instance_state.all_states(conn), counts(conn)
    return states, totals, {h.instance: h for h in assess(hub)}


@bp.get("/connectors")
@requires("events:admin")
def list_connectors() -> Response:
    states, totals, health = _snapshot()
    items = [_document(i, states.get(i.id), totals, health[i.id]) for i in current_hub().config.instances]
    return json_response({"items": items})


@bp.get("/connectors/<instance_id>")
@requires("events:admin")
def get_connector(instance_id: str) -> Response:
    inst = next((i for i in current_hub().config.instances if i.id == instance_id), None)
    if inst is None:
        raise Problem(404, f"no connector instance {instance_id!r}")
    states, totals, health = _snapshot()
    return json_response(_document(inst, states.get(inst.id), totals, health[inst.id]))
