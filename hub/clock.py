"""One place that says what time it is, so tests can control the clock (SLAs, scheduled steps)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the wall clock."""
    global _now
    _now = fn or (lambda: datetime.now(UTC))


def isoformat(value: datetime) -> str:
    """RFC 3339 text in UTC with a 'Z', the one form stored and emitted everywhere."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(value: str | int | float | datetime) -> datetime:
    """Parse ISO 8601 text (with or without zone; naive means UTC) or Unix seconds."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        raise TypeError(f"not a time: {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
