"""The connector contract: small on purpose.

A connector knows its system (auth, paging, payload shapes) and nothing else. It never sleeps,
builds HTTP sessions of its own, retries, stores cursors or writes to the database: the core does.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hub.sdk.errors import FatalError

if TYPE_CHECKING:
    from hub.sdk.http import HttpClient
    from hub.sdk.mapping import Mapping as PayloadMapping


@dataclass(frozen=True)
class RawEvent:
    """One event as the source sent it. `dedup_key` is unique per instance: a second event with
    the same key is acknowledged and ignored."""

    dedup_key: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    received_at: datetime | None = None


@dataclass
class PollResult:
    """What one poll read. The core stores `cursor` only after `events` are committed; with
    `more` it polls again at once (the source has another page)."""

    events: list[RawEvent]
    cursor: Any
    more: bool = False


@dataclass(frozen=True)
class InboundRequest:
    """A pushed HTTP request, already verified by the core."""

    body: bytes
    headers: Mapping[str, str]
    content_type: str
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpReply:
    """An answer a push connector gives directly (protocol handshakes such as Graph's
    validationToken), bypassing storage."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class ActionResult:
    """What an outbound action did, recorded on the ticket."""

    summary: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketChange:
    """A committed-to-be change of a ticket this connector's instance created, handed to
    `follow_up()` so the source channel can answer (acknowledgement, public comment, status).

    `comment` is set for `commented`: its `from_source` is True when the comment came in through a
    connector (e.g. the requester's own reply), False when an agent or the API wrote it."""

    action: str  # created | commented | status | updated
    ticket: dict[str, Any]  # canonical ticket document, with subscribers
    fields: dict[str, tuple[Any, Any]]
    version: int  # the ticket's version after the change: unique per change of one ticket
    at: datetime
    comment: dict[str, Any] | None = None
    thread_refs: tuple[str, ...] = ()  # ids the ticket's conversation is known by, oldest first


@dataclass(frozen=True)
class Outbound:
    """One outbound action `follow_up()` asks for. The core queues it in the ticket's transaction
    under `key` (unique per instance: a second change producing the same key sends nothing) and
    records `thread_refs` (e.g. the Message-ID it will carry) so answers to it find the ticket."""

    action: str
    payload: dict[str, Any]
    key: str
    thread_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RateLimit:
    """At most `count` new tickets per sender within `per_seconds`; later ones are ignored."""

    count: int
    per_seconds: float


@dataclass
class ConnectorContext:
    """What the core hands to a connector instance."""

    instance_id: str
    settings: dict[str, Any]
    data_dir: Path
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths in settings start here
    defaults: dict[str, Any] = field(default_factory=dict)
    mapping: PayloadMapping | None = None
    http_factory: Callable[[], HttpClient] | None = None
    report_expiry: Callable[[str, datetime | None], None] = lambda kind, at: None
    # Ask the core to poll this instance / run its maintenance() soon (e.g. a change notification
    # arrived). Cheap and safe to call from receive(); the scheduler acts within seconds.
    request_poll: Callable[[], None] = lambda: None
    request_maintenance: Callable[[], None] = lambda: None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("hub.connector"))
    _http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        """The shared HTTP client (timeouts, retries, Retry-After), built on first use."""
        if self._http is None:
            if self.http_factory is None:
                from hub.sdk.http import HttpClient

                self._http = HttpClient()
            else:
                self._http = self.http_factory()
        return self._http


def action(name: str) -> Callable[[Callable[..., ActionResult]], Callable[..., ActionResult]]:
    """Mark a method as an outbound action the outbox can call by `name`."""

    def mark(fn: Callable[..., ActionResult]) -> Callable[..., ActionResult]:
        fn._hub_action = name  # type: ignore[attr-defined]
        return fn

    return mark


class Connector:
    """Base of every connector. Subclass PolledConnector or PushConnector."""

    name: ClassVar[str] = ""
    channel: ClassVar[str] = "internal"
    # Seconds between maintenance() runs; None: the connector has no upkeep to schedule.
    maintenance_interval: ClassVar[float | None] = None
    config_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    uses_mapping: ClassVar[bool] = False

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.settings = context.settings
        self.log = context.logger

    def normalize(self, raw: RawEvent) -> list[dict[str, Any]]:
        """Turn a raw event into canonical events (pure: no I/O). The default uses the instance's
        declarative mapping on a JSON body."""
        mapping = self.context.mapping
        if mapping is None:
            raise FatalError(f"connector {self.name!r} has no normalize() and instance has no mapping")
        from hub.sdk.mapping import parse_json

        return [mapping.apply(parse_json(raw.body), received_at=raw.received_at)]

    def maintenance(self, requested: bool = False) -> None:
        """Upkeep besides polling: renew subscriptions, rotate credentials. The scheduler runs it
        every `maintenance_interval` seconds, and soon after `context.request_maintenance()`
        (then `requested` is True). Raise typed errors; never sleep or retry."""

    def check(self) -> list[CheckResult]:
        """Connection test an admin runs; the default only says the settings were accepted."""
        return [CheckResult("settings", True, "settings match the connector's schema")]

    @classmethod
    def action_names(cls) -> dict[str, str]:
        """Action name -> method name (asked for every ticket change: looked up once per class)."""
        return dict(_action_names(cls))

    def run_action(self, name: str, payload: dict[str, Any], idempotency_key: str) -> ActionResult:
        method = self.action_names().get(name)
        if method is None:
            raise FatalError(f"connector {self.name!r} has no action {name!r}")
        result: ActionResult = getattr(self, method)(payload, idempotency_key=idempotency_key)
        return result

    def follow_up(self, change: TicketChange) -> list[Outbound]:
        """Outbound actions answering a change of a ticket this instance created (pure: no I/O).
        The default answers nothing."""
        return []

    def sender_limit(self) -> RateLimit | None:
        """Per-sender limit on new tickets (stops mail storms); None: unlimited."""
        return None

    @classmethod
    def contract_examples(cls) -> list[tuple[dict[str, Any], list[RawEvent]]]:
        """(instance config, sample raw events) pairs the contract suite runs through normalize()."""
        return []


class PolledConnector(Connector):
    """A source the scheduler polls."""

    def poll(self, cursor: Any) -> PollResult:
        raise NotImplementedError


class PushConnector(Connector):
    """A source that calls our webhook. The web layer calls, in order: handshake() (protocol
    handshakes answered at once), the core's signature check (instance `verify` config), verify()
    (checks specific to the system, e.g. Graph's clientState), then receive(), then stores the raw
    events and answers 2xx only after they are committed."""

    def handshake(self, request: InboundRequest) -> HttpReply | None:
        return None

    def verify(self, request: InboundRequest) -> None:
        """Raise VerificationError with a reason that reveals no secret."""

    # Media types POST /hooks/<instance> accepts (415 otherwise); with application/json, any
    # structured `+json` type too. A JSON body is checked to be well formed before receive().
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)

    @property
    def header(self) -> str | None:
        """Request header carrying the sender's delivery id, if the system sends one."""
        return "webhook-id"

    def receive(self, request: InboundRequest) -> list[RawEvent]:
        """Split a verified request into raw events, doing no more parsing than the key needs.
        The key is the sender's delivery id, else the mapping's dedup_key, else the body's hash."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = headers.get(self.header or "", "") if self.header else ""
        mapping = self.context.mapping
        if not key and mapping is not None and mapping.has_dedup_key:
            from hub.sdk.mapping import parse_json

            key = mapping.dedup_key(parse_json(request.body))
        if not key:
            key = "sha256:" + hashlib.sha256(request.body).hexdigest()
        return [RawEvent(key, request.body, dict(request.headers), request.content_type)]


_ACTION_NAMES: dict[type, dict[str, str]] = {}


def _action_names(cls: type) -> dict[str, str]:
    names = _ACTION_NAMES.get(cls)
    if names is None:
        names = {}
        for attr in dir(cls):
            marker = getattr(getattr(cls, attr, None), "_hub_action", None)
            if marker:
                names[marker] = attr
        _ACTION_NAMES[cls] = names
    return names
