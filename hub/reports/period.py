"""Report periods: dates mean local midnight in the hub's time zone; the end is exclusive."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub import clock

DEFAULT_DAYS = 30


def bound(text: str, timezone: str) -> datetime:
    """'2026-11-01' (local midnight) or a full ISO 8601 timestamp -> aware UTC datetime."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            return clock.parse(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date (2026-11-01) or an ISO 8601 timestamp") from None
    return clock.parse(datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)))


def period(start: str | None, end: str | None, timezone: str) -> tuple[datetime, datetime]:
    """Both bounds; defaults: the last 30 days up to now."""
    stop = bound(end, timezone) if end else clock.now()
    first = bound(start, timezone) if start else stop - timedelta(days=DEFAULT_DAYS)
    if first >= stop:
        raise ValueError("the period must start before it ends")
    return first, stop
