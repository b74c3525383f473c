"""What a connector author uses. Import from here; everything else in `hub` is internal."""

from hub.sdk.connector import (
    ActionResult,
    CheckResult,
    Connector,
    ConnectorContext,
    InboundRequest,
    Outbound,
    PolledConnector,
    PollResult,
    PushConnector,
    RateLimit,
    RawEvent,
    TicketChange,
    action,
)
from hub.sdk.errors import ConnectorError, FatalError, IgnoreRecord, MappingError, RetriableError, SkipRecord

__all__ = [
    "ActionResult",
    "CheckResult",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "FatalError",
    "IgnoreRecord",
    "InboundRequest",
    "MappingError",
    "Outbound",
    "PollResult",
    "PolledConnector",
    "PushConnector",
    "RateLimit",
    "RawEvent",
    "RetriableError",
    "SkipRecord",
    "TicketChange",
    "action",
]
