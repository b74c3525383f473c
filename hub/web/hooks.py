"""`POST /hooks/<instance_id>`: pushed events in, answered only once they are durable.

Order of checks: known push instance (404), size (413), content type (415), signature on the raw
bytes (401), well-formed JSON (400), then the connector splits the request into raw events and the
group committer stores them. 202 means the event is committed to the inbox; 200 means every event
of the request was already there (a retry), so nothing new was stored.

The endpoint is a WSGI layer the app factory puts in front of Flask's request handling
(`app.wsgi_app`, where Flask's documentation puts middleware); every other path goes on to Flask.
For this one endpoint, what Flask adds to a request (request and app contexts, URL matching, the
Response object, error handlers) cost more than the endpoint's own work: served this way, intake
went from 0.59 to 0.87 of the bare-Flask reference (bench/README.md, change 47). Its answers are
the same problem documents as every other endpoint's (hub/web/problem.py).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import EnvironHeaders

from hub import jsonutil, metrics
from hub.pipeline.group_commit import GroupCommitter
from hub.pipeline.inbox import Stored
from hub.runtime import Hub
from hub.sdk.connector import InboundRequest, PushConnector, RawEvent
from hub.sdk.errors import SkipRecord
from hub.web.problem import MEDIA_TYPE, Problem, problem_document
from hub.web.verify import SharedToken, VerificationError, Verifier, build_verifier

log = logging.getLogger("hub.web.hooks")
PATH = "/hooks/"
STORE_TIMEOUT = 30.0
CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie"}
Answer = tuple[int, list[tuple[str, str]], bytes]


class Intake:
    """Per-app state of the webhook endpoint: compiled verifiers and the shared group committer."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._verifiers: dict[str, Verifier] = {}
        self._committer: GroupCommitter | None = None
        self._lock = threading.Lock()
        self.wake: Callable[[], None] | None = None  # nudges the worker of this process, if any

    def verifier(self, instance_id: str) -> Verifier:
        found = self._verifiers.get(instance_id)
        if found is None:
            found = build_verifier(self.hub.instance(instance_id).verify)
            self._verifiers[instance_id] = found
        return found

    def committer(self) -> GroupCommitter:
        with self._lock:
            if self._committer is None:
                self._committer = GroupCommitter(self.hub.engine)
            return self._committer

    def close(self) -> None:
        with self._lock:
            if self._committer is not None:
                self._committer.close()
                self._committer = None


def init_app(app: Flask) -> None:
    intake = Intake(app.extensions["hub"])
    app.extensions["hub.intake"] = intake
    app.extensions.setdefault("hub.closers", []).append(intake.close)
    app.wsgi_app = Endpoint(intake, app.wsgi_app)  # type: ignore[method-assign]


class Endpoint:
    """The WSGI layer: requests to /hooks/<instance_id> are answered here, the rest by Flask."""

    def __init__(self, intake: Intake, rest: Callable[..., Iterable[bytes]]) -> None:
        self.intake = intake
        self.rest = rest

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        instance_id = path[len(PATH) :] if path.startswith(PATH) else ""
        if not instance_id or "/" in instance_id:
            return self.rest(environ, start_response)
        status, headers, body = self._answer(instance_id, environ)
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _answer(self, instance_id: str, environ: dict[str, Any]) -> Answer:
        label, status = "(unknown)", 500
        try:
            if environ.get("REQUEST_METHOD") != "POST":
                raise Problem(405, "send the events with POST", headers={"Allow": "POST"})
            connector = _push_connector(self.intake.hub, instance_id)
            label = instance_id
            answer = _handle(self.intake, instance_id, connector, _Request.of(environ))
        except Problem as exc:
            answer = _problem(exc, environ)
        except Exception:
            log.exception("webhook %s failed", instance_id)
            answer = _problem(Problem(500), environ)
        status = answer[0]
        metrics.WEBHOOK_REQUESTS.labels(label, str(status)).inc()
        return answer


@dataclass
class _Request:
    """What the endpoint reads of a WSGI request."""

    environ: dict[str, Any]
    headers: dict[str, str]  # as the client sent them, named by Werkzeug as Flask named them ("Webhook-Id")
    content_type: str | None
    content_length: int | None
    args: dict[str, str]  # the first value of each query parameter

    @classmethod
    def of(cls, environ: dict[str, Any]) -> _Request:
        headers = dict(EnvironHeaders(environ).items())
        length = environ.get("CONTENT_LENGTH")
        args: dict[str, str] = {}
        for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            args.setdefault(name, value)
        return cls(
            environ,
            headers,
            environ.get("CONTENT_TYPE"),
            int(length) if length and length.isdigit() else None,
            args,
        )

    def body(self, limit: int) -> bytes:
        too_large = Problem(413, f"the body is larger than the limit of {limit} bytes", limit=limit)
        stream = self.environ["wsgi.input"]
        if self.content_length is not None:
            if self.content_length > limit:
                raise too_large
            return bytes(stream.read(self.content_length))
        if not self.environ.get("wsgi.input_terminated"):
            raise Problem(411, "send a Content-Length (or chunked encoding through a server that ends the stream)")
        data = bytes(stream.read(limit + 1))  # the server ends a chunked stream
        if len(data) > limit:
            raise too_large
        return data


def _problem(exc: Problem, environ: dict[str, Any]) -> Answer:
    body = problem_document(exc.status, exc.detail, environ.get("PATH_INFO"), **exc.extra)
    return exc.status, [("Content-Type", MEDIA_TYPE), *exc.headers.items()], body


def _push_connector(hub: Hub, instance_id: str) -> PushConnector:
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


def _check_json(body: bytes) -> None:
    try:
        jsonutil.loads(body)
    except jsonutil.JSONDecodeError as exc:
        detail = f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise Problem(400, detail, line=exc.lineno, column=exc.colno, position=exc.pos) from None


def _kept_headers(intake: Intake, headers: dict[str, str], instance_id: str) -> dict[str, str]:
    """Headers stored with the event, less any that carry a credential (a shared token must not
    end up in the inbox, where admins and replays can read it)."""
    drop = set(CREDENTIAL_HEADERS)
    verifier = intake.verifier(instance_id)
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


def _store(intake: Intake, instance_id: str, events: list[RawEvent]) -> list[Stored]:
    try:
        return intake.committer().receive(instance_id, events, timeout=STORE_TIMEOUT)
    except (SQLAlchemyError, TimeoutError, OSError) as exc:
        log.error("webhook %s: store unavailable: %s", instance_id, type(exc).__name__)
        raise Problem(503, "the event store is unavailable; retry later", headers={"Retry-After": "30"}) from None


def _handle(intake: Intake, instance_id: str, connector: PushConnector, request: _Request) -> Answer:
    body = request.body(intake.hub.settings.max_body_bytes)
    media_type = _media_type(request.content_type)
    if not _accepts(connector, media_type):
        accepted = ", ".join(connector.content_types)
        raise Problem(415, f"content type {media_type or '(none)'!r} is not accepted; send {accepted}")
    try:
        intake.verifier(instance_id).verify(request.headers, body)
    except VerificationError as exc:
        metrics.VERIFICATION_FAILURES.labels(instance_id, exc.kind).inc()
        log.warning("webhook %s refused from %s: %s", instance_id, request.environ.get("REMOTE_ADDR"), exc.reason)
        raise Problem(401, exc.reason) from None
    if media_type == "application/json" or media_type.endswith("+json"):
        _check_json(body)
    inbound = InboundRequest(body, _kept_headers(intake, request.headers, instance_id), media_type, request.args)
    stored = _store(intake, instance_id, _raw_events(connector, inbound))
    new = [s for s in stored if not s.duplicate]
    metrics.EVENTS_RECEIVED.labels(instance_id, "webhook").inc(len(new))
    metrics.EVENTS_DUPLICATE.labels(instance_id, "webhook").inc(len(stored) - len(new))
    if new and intake.wake is not None:
        intake.wake()
    doc: dict[str, Any] = {
        "status": "accepted" if new else "duplicate",
        "events": [{"id": s.inbox_id, "duplicate": s.duplicate} for s in stored],
    }
    return (202 if new else 200), [("Content-Type", "application/json")], jsonutil.dumpb(doc)
