"""Errors named for what the runtime must do, not for what went wrong.

- RetriableError: try again later (network, 5xx, 429); the core schedules the retry.
- FatalError: configuration or credentials are wrong; stop this instance until an admin fixes it.
- SkipRecord: this one record is bad; dead-letter it with the reason and carry on.
- IgnoreRecord: this record is deliberately not acted on (an auto-reply, a rate-limited sender);
  the inbox keeps it as `ignored` with the reason, so an admin can see why and replay it.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of the errors a connector may raise."""


class RetriableError(ConnectorError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(ConnectorError):
    """Configuration or authorization problem; retrying will not help."""


class SkipRecord(ConnectorError):
    """The record cannot be processed; it is dead-lettered with this message."""


class MappingError(SkipRecord):
    """A declarative mapping could not handle a payload."""


class VerificationError(ConnectorError):
    """A pushed request failed authentication; the web layer answers 401 with this reason."""


class IgnoreRecord(ConnectorError):
    """The record is fine but must not be acted on; it is kept as `ignored` with this message."""
