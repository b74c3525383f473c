"""Business time: working hours, holidays, DST, starts outside working hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.tickets.calendar import BusinessCalendar, CalendarError, expand_days, parse_spans

CHI = ZoneInfo("America/Chicago")


def city() -> BusinessCalendar:
    week = {d: parse_spans(["08:00-12:00", "13:00-17:00"], "hours") for d in expand_days("mon-fri", "hours")}
    holidays = {date(2026, 11, 26): (), date(2026, 12, 24): parse_spans(["08:00-12:00"], "h"), date(2026, 12, 25): ()}
    return BusinessCalendar("city", "America/Chicago", week, holidays)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHI)


def test_counts_only_working_hours_and_skips_lunch_weekend_and_holidays():
    cal = city()
    # Wednesday 16:00 + 2h: one hour Wednesday, Thanksgiving Thursday closed, Friday 08:00 + 1h
    assert cal.add(local(2026, 11, 25, 16, 0), 2 * 3600) == local(2026, 11, 27, 9, 0)
    # Friday 11:00 + 3h: 1h before lunch, 2h after it
    assert cal.add(local(2026, 11, 27, 11, 0), 3 * 3600) == local(2026, 11, 27, 15, 0)
    # Friday 16:30 + 1h: 30 minutes Friday, the rest Monday morning
    assert cal.add(local(2026, 11, 27, 16, 30), 3600) == local(2026, 11, 30, 8, 30)
    # Christmas Eve is a half day (08:00-12:00), Christmas Day closed
    assert cal.add(local(2026, 12, 24, 11, 0), 2 * 3600) == local(2026, 12, 28, 9, 0)
    assert cal.working_seconds(local(2026, 12, 24, 0, 0), local(2026, 12, 26, 0, 0)) == 4 * 3600


def test_a_start_outside_working_hours_counts_from_the_next_working_moment():
    cal = city()
    saturday = local(2026, 11, 28, 10, 0)
    assert cal.next_working_moment(saturday) == local(2026, 11, 30, 8, 0)
    assert cal.add(saturday, 4 * 3600) == local(2026, 11, 30, 12, 0)
    assert cal.working_seconds(saturday, local(2026, 11, 30, 8, 0)) == 0
    assert not cal.is_working(local(2026, 11, 30, 12, 30)) and cal.is_working(local(2026, 11, 30, 13, 0))


def test_working_days_keep_their_length_across_dst_changes():
    cal = city()
    # Friday before the fall-back weekend (1 Nov 2026) 16:00 CDT + 4h -> Monday 11:00 CST
    due = cal.add(local(2026, 10, 30, 16, 0), 4 * 3600)
    assert due == local(2026, 11, 2, 11, 0)
    assert due.astimezone(UTC) == datetime(2026, 11, 2, 17, 0, tzinfo=UTC)  # not 16:00: the offset moved
    # spring forward (8 Mar 2026): Friday 16:00 CST + 2h -> Monday 09:00 CDT
    assert cal.add(local(2026, 3, 6, 16, 0), 2 * 3600) == local(2026, 3, 9, 9, 0)
    assert cal.working_seconds(local(2026, 3, 6, 0, 0), local(2026, 3, 10, 0, 0)) == 2 * 8 * 3600


def test_a_24x7_calendar_follows_real_elapsed_time_on_dst_days():
    cal = BusinessCalendar.always("America/Chicago")
    assert cal.working_seconds(local(2026, 3, 8, 0, 0), local(2026, 3, 9, 0, 0)) == 23 * 3600
    assert cal.working_seconds(local(2026, 11, 1, 0, 0), local(2026, 11, 2, 0, 0)) == 25 * 3600
    start = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    assert cal.add(start, 4 * 3600) == start + timedelta(hours=4)


@pytest.mark.parametrize("hours", [0.5, 3, 7, 8, 9, 40, 123.25])
def test_add_and_working_seconds_agree(hours):
    cal = city()
    start = local(2026, 11, 20, 10, 17)
    end = cal.add(start, hours * 3600)
    assert cal.working_seconds(start, end) == pytest.approx(hours * 3600)


def test_bad_definitions_are_refused_with_the_field():
    with pytest.raises(CalendarError, match=r"hours\.mon: time ranges overlap"):
        parse_spans(["08:00-12:00", "11:00-13:00"], "hours.mon")
    with pytest.raises(CalendarError, match="must end after it starts"):
        parse_spans(["17:00-08:00"], "hours.mon")
    with pytest.raises(CalendarError, match="unknown time zone"):
        BusinessCalendar("x", "Mars/Olympus", {0: ((0, 60),)})
    with pytest.raises(CalendarError, match="no working time"):
        BusinessCalendar("x", "UTC", {})
    assert expand_days("fri-mon", "x") == [4, 5, 6, 0]
