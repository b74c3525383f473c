"""Statements run on the driver's cursor write exactly what SQLAlchemy writes, fail the way
SQLAlchemy fails, and stay visible to statement listeners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.store import direct
from hub.store.db import read, write
from hub.store.tables import inbox, tickets
from tests.support.statements import recorded

AT = datetime(2026, 11, 29, 13, 45, 5, 495243, tzinfo=UTC)
INSERT_INBOX = insert(inbox).returning(inbox.c.id)
MARK = (
    update(inbox)
    .where(inbox.c.id == bindparam("row_id"))
    .values(state=bindparam("state"), attempts=inbox.c.attempts + 1, processed_at=bindparam("at"))
)


def _row(key: str, **over: Any) -> dict[str, Any]:
    return {
        "instance": "src",
        "dedup_key": key,
        "received_at": AT,
        "content_type": "application/json",
        "headers": {"X-Id": ["1", "2"], "empty": None, "text": "é"},
        "body": b'{"a": 1}',
        "state": "received",
        "attempts": 0,
        "available_at": AT - timedelta(seconds=1),
        "last_error": None,
        **over,
    }


def _stored(engine: Engine, row_id: int) -> dict[str, Any]:
    with read(engine) as conn:
        found = conn.execute(select(inbox).where(inbox.c.id == row_id)).one()
    return {k: v for k, v in found._mapping.items() if k not in ("id", "dedup_key")}


def test_rows_read_back_as_rows_written_through_sqlalchemy(engine: Engine) -> None:
    zoned = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-5)))
    with write(engine) as conn:
        ours = direct.execute(conn, INSERT_INBOX, _row("direct", received_at=zoned))[0][0]
        theirs = conn.execute(INSERT_INBOX, _row("core", received_at=zoned)).scalar_one()
    assert _stored(engine, ours) == _stored(engine, theirs)
    assert _stored(engine, ours)["received_at"] == zoned.astimezone(UTC)
    assert _stored(engine, ours)["headers"] == {"X-Id": ["1", "2"], "empty": None, "text": "é"}


def test_executemany_applies_each_row_and_the_values_the_statement_carries(engine: Engine) -> None:
    with write(engine) as conn:
        ids = [direct.execute(conn, INSERT_INBOX, _row(f"k{n}"))[0][0] for n in range(3)]
        direct.executemany(
            conn, MARK, [{"row_id": ids[0], "state": "done", "at": AT}, {"row_id": ids[2], "state": "dead", "at": None}]
        )
    assert [(_stored(engine, i)["state"], _stored(engine, i)["attempts"]) for i in ids] == [
        ("done", 1),
        ("received", 0),
        ("dead", 1),
    ]
    assert _stored(engine, ids[0])["processed_at"] == AT
    assert _stored(engine, ids[2])["processed_at"] is None


def test_a_rejected_row_raises_sqlalchemys_error_without_the_values(engine: Engine) -> None:
    with pytest.raises(IntegrityError) as caught, write(engine) as conn:
        direct.execute(conn, INSERT_INBOX, _row("same"))
        direct.executemany(conn, insert(inbox), [_row("same", body=b"secret body")])
    assert "secret body" not in str(caught.value)
    with read(engine) as conn:
        assert conn.execute(select(inbox.c.id)).all() == []  # the transaction rolled back as a whole


def test_statement_listeners_see_each_statement(engine: Engine) -> None:
    with recorded(engine, "INSERT", "UPDATE") as seen, write(engine) as conn:
        row_id = direct.execute(conn, INSERT_INBOX, _row("seen"))[0][0]
        direct.executemany(conn, MARK, [{"row_id": row_id, "state": "done", "at": AT}])
    assert [s.split()[0] for s in seen] == ["INSERT", "UPDATE"]


def test_a_column_default_left_out_is_refused_not_written_as_null(sqlite_engine: Engine) -> None:
    row = _row("no-attempts")
    del row["attempts"]  # the table gives 0: SQLAlchemy's execution would fill it in, this cannot
    with pytest.raises(ValueError, match="attempts"), write(sqlite_engine) as conn:
        direct.execute(conn, INSERT_INBOX, row)


def test_reads_return_what_sqlalchemy_returns(engine: Engine) -> None:
    with write(engine) as conn:
        ids = [
            direct.execute(conn, INSERT_INBOX, _row(f"r{n}", last_error=None if n else "why"))[0][0] for n in range(2)
        ]
    query = select(inbox).where(inbox.c.id.in_([bindparam("a"), bindparam("b")])).order_by(inbox.c.id)
    with read(engine) as conn:
        ours = direct.select(conn, query, {"a": ids[0], "b": ids[1]})
        theirs = [tuple(row) for row in conn.execute(query, {"a": ids[0], "b": ids[1]})]
    assert ours == theirs
    assert ours[0][inbox.c.keys().index("received_at")] == AT
    assert ours[0][inbox.c.keys().index("headers")]["X-Id"] == ["1", "2"]


def _ticket(title: str) -> dict[str, Any]:
    return {
        "type": "service_request",
        "title": title,
        "description": "",
        "status": "new",
        "priority": "normal",
        "channel": "phone",
        "requester": {"name": "Ana"},
        "source": {},
        "source_instance": "src",
        "location": None,  # JSON null, as SQLAlchemy stores it, not SQL NULL
        "attachments": [],
        "tags": [],
        "attributes": {},
        "created_at": AT,
        "updated_at": AT,
        "version": 1,
    }


def test_stored_text_is_what_sqlalchemy_stores(sqlite_engine: Engine) -> None:
    statement = insert(tickets).returning(tickets.c.id)
    with write(sqlite_engine) as conn:
        ours = direct.execute(conn, statement, _ticket("ours"))[0][0]
        theirs = conn.execute(statement, _ticket("theirs")).scalar_one()
        raw = "SELECT location, requester, created_at, version FROM tickets WHERE id = ?"
        stored = [conn.exec_driver_sql(raw, (ticket_id,)).one() for ticket_id in (ours, theirs)]
    assert stored[0] == stored[1]


def test_statements_built_per_call_do_not_grow_the_cache_without_bound(sqlite_engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(direct, "LIMIT", 4)
    monkeypatch.setattr(direct, "_built", {})
    with write(sqlite_engine) as conn:
        for n in range(10):  # a new statement object each time, as a careless caller would build
            direct.execute(conn, insert(inbox).returning(inbox.c.id), _row(f"fresh-{n}"))
            assert len(direct._built) <= 4
    with read(sqlite_engine) as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar() == 10
