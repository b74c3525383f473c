"""Timestamps read back as the aware UTC instant that was written, on every backend, and SQLite
keeps SQLAlchemy's own text format, so rows written before and after read back alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, insert, select, text, update

from hub.store.db import read, write
from hub.store.tables import UTCDateTime, inbox

INSTANTS = [
    datetime(2026, 11, 29, 13, 45, 5, 495243, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-5))),  # another zone: stored as UTC
    datetime(2026, 1, 1, 0, 0, 0, 1),  # naive: taken as UTC
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
]


def _row(received_at: datetime) -> dict[str, object]:
    return {
        "instance": "src",
        "dedup_key": "k",
        "received_at": received_at,
        "content_type": "application/json",
        "headers": {},
        "body": b"{}",
        "state": "received",
        "attempts": 0,
        "available_at": received_at,
    }


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@pytest.mark.parametrize("instant", INSTANTS)
def test_a_timestamp_reads_back_as_the_same_aware_utc_instant(engine, instant):
    with write(engine) as conn:
        row_id = conn.execute(insert(inbox).values(_row(instant)).returning(inbox.c.id)).scalar_one()
    with read(engine) as conn:
        got = conn.execute(select(inbox.c.received_at).where(inbox.c.id == row_id)).scalar_one()
    assert got == _as_utc(instant)
    assert got.tzinfo == UTC


@pytest.mark.parametrize("instant", INSTANTS)
def test_sqlite_stores_sqlalchemys_own_datetime_text(sqlite_engine, instant):
    naive = _as_utc(instant).replace(tzinfo=None)
    sqlalchemy_text = DateTime().dialect_impl(sqlite_engine.dialect).bind_processor(sqlite_engine.dialect)(naive)
    with write(sqlite_engine) as conn:
        conn.execute(insert(inbox).values(_row(instant)))
        stored = conn.execute(text("SELECT received_at FROM inbox")).scalar_one()
    assert stored == sqlalchemy_text


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-11-29 13:45:05", datetime(2026, 11, 29, 13, 45, 5, tzinfo=UTC)),  # SQLite's datetime('now')
        ("2026-11-29 13:45:05.5", datetime(2026, 11, 29, 13, 45, 5, 500000, tzinfo=UTC)),
        ("2026-11-29T15:45:05+02:00", datetime(2026, 11, 29, 13, 45, 5, tzinfo=UTC)),
        ("2026-11-29", datetime(2026, 11, 29, tzinfo=UTC)),
    ],
)
def test_sqlite_reads_timestamp_text_written_by_other_tools(sqlite_engine, stored, expected):
    with write(sqlite_engine) as conn:
        conn.execute(insert(inbox).values(_row(datetime.now(UTC))))
        conn.execute(text("UPDATE inbox SET received_at = :stored"), {"stored": stored})
        assert conn.execute(select(inbox.c.received_at)).scalar_one() == expected


def test_a_type_decorator_copy_keeps_the_sqlite_processing(sqlite_engine):
    """Columns share one UTCDateTime; SQLAlchemy copies types (e.g. for bind parameters)."""
    value = datetime(2026, 11, 29, 12, tzinfo=UTC)
    with write(sqlite_engine) as conn:
        conn.execute(insert(inbox).values(_row(value)))
        conn.execute(update(inbox).values(received_at=inbox.c.received_at))
        got = conn.execute(select(inbox.c.received_at).where(inbox.c.received_at <= value)).scalar_one()
    assert got == value
    assert UTCDateTime().copy().bind_processor(sqlite_engine.dialect)(value) == "2026-11-29 12:00:00.000000"
