"""Business calendars: working hours per weekday in a time zone, minus holidays.

SLA clocks count only working time. Every computation goes through real UTC instants built from
local wall times with zoneinfo, so a working day that spans a DST change has its true length and
`add()` never lands in a wall-clock gap.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")
_MAX_EMPTY_DAYS = 3 * 366  # a calendar with no working time for three years is a config error

Span = tuple[int, int]  # minutes after local midnight, end exclusive (1440 = 24:00)


class CalendarError(ValueError):
    """A calendar definition that cannot work; the message names the field."""


def parse_spans(values: Iterable[str], where: str) -> tuple[Span, ...]:
    """["08:00-12:00", "13:00-17:00"] -> ((480, 720), (780, 1020)), sorted, non-overlapping."""
    spans = []
    for value in values:
        match = _RANGE.match(str(value).strip())
        if not match:
            raise CalendarError(f"{where}: {value!r} is not a time range like 08:00-17:00")
        start = int(match.group(1)) * 60 + int(match.group(2))
        end = int(match.group(3)) * 60 + int(match.group(4))
        if end > 1440 or end <= start:
            raise CalendarError(f"{where}: {value!r} must end after it starts, at 24:00 at the latest")
        spans.append((start, end))
    spans.sort()
    for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
        if s2 < e1:
            raise CalendarError(f"{where}: time ranges overlap")
    return tuple(spans)


def expand_days(key: str, where: str) -> list[int]:
    """'mon', 'mon-fri', 'sat,sun' -> weekday indexes (Monday = 0)."""
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise CalendarError(f"{where}: {key!r} is not a weekday or a range like mon-fri")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


class BusinessCalendar:
    """Working time of one organisation. Instances are immutable after construction."""

    def __init__(
        self,
        name: str,
        timezone: str,
        week: Mapping[int, tuple[Span, ...]],
        holidays: Mapping[date, tuple[Span, ...]] | None = None,
    ) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"timezone: unknown time zone {timezone!r}") from None
        self.name = name
        self.timezone = timezone
        self.week = {day: tuple(week.get(day, ())) for day in range(7)}
        self.holidays = dict(holidays or {})  # date -> working spans that day (empty: closed)
        if not any(self.week.values()):
            raise CalendarError("hours: the calendar has no working time at all")
        self._cache: dict[date, list[tuple[datetime, datetime]]] = {}

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """24x7: business time equals elapsed time."""
        return cls("24x7", timezone, {day: ((0, 1440),) for day in range(7)})

    def spans_on(self, day: date) -> tuple[Span, ...]:
        return self.holidays[day] if day in self.holidays else self.week[day.weekday()]

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of a local date as UTC instants."""
        found = self._cache.get(day)
        if found is None:
            found = [(self._instant(day, start), self._instant(day, end)) for start, end in self.spans_on(day)]
            found = [(a, b) for a, b in found if b > a]  # a span inside a DST gap has no length
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[day] = found
        return found

    def _instant(self, day: date, minutes: int) -> datetime:
        if minutes >= 1440:
            day, minutes = day + timedelta(days=1), minutes - 1440
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return local.astimezone(UTC)

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def is_working(self, at: datetime) -> bool:
        return any(a <= at < b for a, b in self.intervals(self._local_date(at)))

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working time between two instants, in seconds (0 when end <= start)."""
        if end <= start:
            return 0.0
        total = 0.0
        day, last = self._local_date(start) - timedelta(days=1), self._local_date(end)
        while day <= last:
            for a, b in self.intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant when `seconds` of working time have passed after `start`. A start outside
        working hours counts from the next working moment."""
        remaining = max(0.0, float(seconds))
        day = self._local_date(start) - timedelta(days=1)
        empty = 0
        while empty < _MAX_EMPTY_DAYS:
            spans = self.intervals(day)
            empty = 0 if spans else empty + 1
            for a, b in spans:
                lo = max(a, start)
                if lo >= b:
                    continue
                available = (b - lo).total_seconds()
                if remaining <= available:
                    return lo + timedelta(seconds=remaining)
                remaining -= available
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name!r} has no working time for {_MAX_EMPTY_DAYS} days")

    def next_working_moment(self, at: datetime) -> datetime:
        return self.add(at, 0)
