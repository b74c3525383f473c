"""What a connector author uses. Import from here; everything else in `hub` is internal."""

from hub.sdk.connector import (
    ActionResult,
    CheckResult,
    Connector,
    ConnectorContext,
    HttpReply,
    InboundRequest,
    PolledConnector,
    PollResult,
    PushConnector,
    RawEvent,
    action,
)
from hub.sdk.errors import (
    ConnectorError,
    FatalError,
    MappingError,
    RetriableError,
    SkipRecord,
    VerificationError,
)

__all__ = [
    "ActionResult",
    "CheckResult",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "FatalError",
    "HttpReply",
    "InboundRequest",
    "MappingError",
    "PollResult",
    "PolledConnector",
    "PushConnector",
    "RawEvent",
    "RetriableError",
    "SkipRecord",
    "VerificationError",
    "action",
]
