"""`POST /hooks/<instance_id>`: pushed events in, answered only once they are durable.

Order of checks: known push instance (404), size (413), content type (415), signature on the raw
bytes (401), well-formed JSON (400), then the connector splits the request into raw events and the
group committer stores them. 202 means the event is committed to the inbox; 200 means every event
of the request was already there (a retry), so nothing new was stored.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from hub import jsonutil, metrics
from hub.app import current_hub
from hub.pipeline.group_commit import GroupCommitter
from hub.pipeline.inbox import Stored
from hub.sdk.connector import InboundRequest, PushConnector, RawEvent
from hub.sdk.errors import SkipRecord
from hub.web.problem import Problem
from hub.web.verify import SharedToken, VerificationError, Verifier, build_verifier

log = logging.getLogger("hub.web.hooks")
bp = Blueprint("hooks", __name__)
STORE_TIMEOUT = 30.0


class Intake:
    """Per-app state of the webhook endpoint: compiled verifiers and the shared group committer."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._verifiers: dict[str, Verifier] = {}
        self._committer: GroupCommitter | None = None
        self._lock = threading.Lock()
        self.wake: Callable[[], None] | None = None  # nudges the worker of this process, if any

    def verifier(self, instance_id: str) -> Verifier:
        found = self._verifiers.get(instance_id)
        if found is None:
            found = build_verifier(current_hub().instance(instance_id).verify)
            self._verifiers[instance_id] = found
        return found

    def committer(self) -> GroupCommitter:
        with self._lock:
            if self._committer is None:
                self._committer = GroupCommitter(current_hub().engine)
            return self._committer

    def close(self) -> None:
        with self._lock:
            if self._committer is not None:
                self._committer.close()
                self._committer = None


def init_app(app: Flask) -> None:
    intake = Intake(app)
    app.extensions["hub.intake"] = intake
    app.extensions.setdefault("hub.closers", []).append(intake.close)
    app.register_blueprint(bp)


def _intake() -> Intake:
    intake: Intake = current_app.extensions["hub.intake"]
    return intake


def _push_connector(instance_id: str) -> PushConnector:
    hub = current_hub()
    try:
        inst = hub.instance(instance_id)
    except LookupError:
        raise Problem(404, f"no connector instance {instance_id!r} takes webhooks here") from None
    connector = hub.connector(instance_id) if inst.enabled else None
    if not isinstance(connector, PushConnector):
        raise Problem(404, f"no connector instance {instance_id!r} takes webhooks here")
    return connector


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _accepts(connector: PushConnector, media_type: str) -> bool:
    accepted = connector.content_types
    return media_type in accepted or ("application/json" in accepted and media_type.endswith("+json"))


def _read_body(limit: int) -> bytes:
    too_large = Problem(413, f"the body is larger than the limit of {limit} bytes", limit=limit)
    if request.content_length is not None:
        if request.content_length > limit:
            raise too_large
        return request.get_data(cache=False)
    if not request.environ.get("wsgi.input_terminated"):
        raise Problem(411, "send a Content-Length (or chunked encoding through a server that ends the stream)")
    data: bytes = request.environ["wsgi.input"].read(limit + 1)  # the server ends a chunked stream
    if len(data) > limit:
        raise too_large
    return data


def _check_json(body: bytes) -> None:
    try:
        jsonutil.loads(body)
    except jsonutil.JSONDecodeError as exc:
        detail = f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise Problem(400, detail, line=exc.lineno, column=exc.colno, position=exc.pos) from None


CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie"}


def _kept_headers(headers: dict[str, str], instance_id: str) -> dict[str, str]:
    """Headers stored with the event, less any that carry a credential (a shared token must not
    end up in the inbox, where admins and replays can read it)."""
    drop = set(CREDENTIAL_HEADERS)
    verifier = _intake().verifier(instance_id)
    if isinstance(verifier, SharedToken):
        drop.add(verifier.header.lower())
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def _raw_events(connector: PushConnector, inbound: InboundRequest) -> list[RawEvent]:
    """A dedup rule the payload cannot satisfy must not lose the event: key it by its hash and let
    the worker dead-letter it with the reason if the mapping cannot handle it either."""
    try:
        return connector.receive(inbound)
    except SkipRecord as exc:
        log.warning("webhook %s: %s; keyed by body hash", connector.context.instance_id, exc)
        key = "sha256:" + hashlib.sha256(inbound.body).hexdigest()
        return [RawEvent(key, inbound.body, dict(inbound.headers), inbound.content_type)]


def _store(instance_id: str, events: list[RawEvent]) -> list[Stored]:
    try:
        return _intake().committer().receive(instance_id, events, timeout=STORE_TIMEOUT)
    except (SQLAlchemyError, TimeoutError, OSError) as exc:
        log.error("webhook %s: store unavailable: %s", instance_id, type(exc).__name__)
        raise Problem(503, "the event store is unavailable; retry later", headers={"Retry-After": "30"}) from None


@bp.post("/hooks/<instance_id>")
def receive(instance_id: str) -> Response:
    label = "(unknown)"
    status = 500
    try:
        connector = _push_connector(instance_id)
        label = instance_id
        response = _handle(instance_id, connector)
        status = response.status_code
        return response
    except Problem as exc:
        status = exc.status
        raise
    finally:
        metrics.WEBHOOK_REQUESTS.labels(label, str(status)).inc()


def _handle(instance_id: str, connector: PushConnector) -> Response:
    body = _read_body(current_hub().settings.max_body_bytes)
    media_type = _media_type(request.content_type)
    if not _accepts(connector, media_type):
        accepted = ", ".join(connector.content_types)
        raise Problem(415, f"content type {media_type or '(none)'!r} is not accepted; send {accepted}")
    headers = dict(request.headers.items())
    try:
        _intake().verifier(instance_id).verify(headers, body)
    except VerificationError as exc:
        metrics.VERIFICATION_FAILURES.labels(instance_id, exc.kind).inc()
        log.warning("webhook %s refused from %s: %s", instance_id, request.remote_addr, exc.reason)
        raise Problem(401, exc.reason) from None
    if media_type == "application/json" or media_type.endswith("+json"):
        _check_json(body)
    inbound = InboundRequest(body, _kept_headers(headers, instance_id), media_type, dict(request.args.items()))
    stored = _store(instance_id, _raw_events(connector, inbound))
    new = [s for s in stored if not s.duplicate]
    metrics.EVENTS_RECEIVED.labels(instance_id, "webhook").inc(len(new))
    metrics.EVENTS_DUPLICATE.labels(instance_id, "webhook").inc(len(stored) - len(new))
    if new and _intake().wake is not None:
        _intake().wake()  # type: ignore[misc]
    doc: dict[str, Any] = {
        "status": "accepted" if new else "duplicate",
        "events": [{"id": s.inbox_id, "duplicate": s.duplicate} for s in stored],
    }
    return Response(jsonutil.dumpb(doc), status=202 if new else 200, mimetype="application/json")
