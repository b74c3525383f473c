"""The worker's hot statements on SQLite, run on the driver's cursor instead of through
SQLAlchemy's execution machinery.

A prebuilt UPDATE cost 29.5 µs through `Connection.execute` and 4.9 µs on the sqlite3 cursor
(bench/README.md): the execution context, `construct_params` per row and result set-up are most
of a worker event's time once its statements are few. Here a statement is compiled once per set
of parameter names, its values go through the columns' own bind processors (so rows read back
exactly as rows written through SQLAlchemy do), and it runs on the connection's DBAPI cursor
inside the transaction SQLAlchemy began. Driver errors come back as SQLAlchemy's (`DBAPIError`
and its subclasses), which is what the worker's fallbacks catch, and `before_cursor_execute`
listeners still see each statement (tests and `bench.profile_worker` count them).

Reads (`select`) come back as tuples with the columns' result processors applied, so the values
are what SQLAlchemy would have returned.

What this skips is SQLAlchemy's `before_execute` event, which `hub.tickets.rows` uses to drop its
cache after a write it did not patch: only run statements here whose callers patch that cache
themselves, or that write tables it does not hold. Other dialects go through `conn.execute`
unchanged: PostgreSQL is bound by round trips, not by this.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import CompoundSelect, Select

_Key = TypeVar("_Key")
_T = TypeVar("_T")


class _Prepared:
    """A statement compiled for one set of parameter names."""

    def __init__(
        self, sql: str, names: tuple[str, ...], processed: list[tuple[int, Callable[[Any], Any]]], fixed: dict[str, Any]
    ) -> None:
        self.sql = sql
        self._processed = processed  # (placeholder's position, its column's bind processor)
        self._fixed = fixed  # values the statement carries itself (the 1 of version + 1)
        self._take = _getter(names)

    def values(self, params: dict[str, Any]) -> Sequence[Any]:
        """The placeholders' values, each through its bind processor (None too, as SQLAlchemy
        does: a JSON column stores None as JSON null)."""
        found = self._take({**self._fixed, **params} if self._fixed else params)
        if not self._processed:
            return found
        out = list(found)
        for position, process in self._processed:
            out[position] = process(out[position])
        return out


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of `names` from a dict, as a tuple (itemgetter of one name gives the value)."""
    if len(names) == 1:
        name = names[0]
        return lambda params: (params[name],)
    return operator.itemgetter(*names) if names else (lambda params: ())


# What is built once per statement, keyed on the statement's identity and holding the statement,
# so an id is never taken for another one's. Pass statements built once (module constants, or
# from a cached builder); should anything pass new ones per call, the cache starts over at LIMIT.
_built: dict[tuple[Any, ...], tuple[Executable, Any]] = {}
LIMIT = 1024


def _once(key: tuple[Any, ...], statement: Executable, build: Callable[[], _T]) -> _T:
    hit = _built.get(key)
    if hit is not None and hit[0] is statement:
        return hit[1]
    if len(_built) >= LIMIT:
        _built.clear()
    value = build()
    _built[key] = (statement, value)
    return value


def _prepare(conn: Connection, statement: Executable, names: frozenset[str]) -> _Prepared:
    return _once(("prepared", id(statement), names), statement, lambda: _compile(conn, statement, names))


def _compile(conn: Connection, statement: Executable, names: frozenset[str]) -> _Prepared:
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect, column_keys=sorted(names))  # type: ignore[attr-defined]
    order = tuple(compiled.positiontup or ())
    binds = compiled.binds
    if any(binds[name].expanding for name in order):
        raise ValueError("statements with expanding IN parameters cannot run directly")
    defaulted = {column.key for column in [*compiled.insert_prefetch, *compiled.update_prefetch]}
    if missing := sorted(defaulted - names):
        # SQLAlchemy's execution context would fill in their Python-side defaults; here, give them
        raise ValueError(f"give a value for every column with a default: {', '.join(missing)}")
    processed = [
        (position, process)
        for position, name in enumerate(order)
        if (process := binds[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    fixed = {name: binds[name].value for name in order if name not in names}
    return _Prepared(compiled.string, order, processed, fixed)


def execute(conn: Connection, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run `statement` once; its RETURNING rows as plain tuples (no result processing: use it for
    ids and other plain values)."""
    if conn.dialect.name != "sqlite":
        result = conn.execute(statement, params)
        return [tuple(row) for row in result] if result.returns_rows else []
    prepared = _prepare(conn, statement, frozenset(params))
    return _run(conn, prepared.sql, prepared.values(params), many=False)


def select(
    conn: Connection, statement: Select[Any] | CompoundSelect[Any], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of a read, each value as SQLAlchemy would return it."""
    if conn.dialect.name != "sqlite":
        return [tuple(row) for row in conn.execute(statement, params)]
    prepared = _prepare(conn, statement, frozenset(params))
    process = _once(("results", id(statement)), statement, lambda: _result_processors(conn, statement))
    found = _run(conn, prepared.sql, prepared.values(params), many=False)
    if not process:
        return found
    out = []
    for row in found:
        values = list(row)
        for position, convert in process:
            values[position] = convert(values[position])
        out.append(tuple(values))
    return out


def records(
    conn: Connection, statement: Select[Any] | CompoundSelect[Any], params: dict[str, Any]
) -> list[SimpleNamespace]:
    """The rows of a read as objects with an attribute per selected column."""
    keys = _once(("keys", id(statement)), statement, lambda: tuple(str(c.key) for c in statement.selected_columns))
    return [SimpleNamespace(**dict(zip(keys, row, strict=True))) for row in select(conn, statement, params)]


# Key counts a fixed IN list (or UNION ALL) is built for; a chunk is padded up to the next. Each
# size is one statement compiled once, where an expanding IN parameter is compiled again per
# call (and cannot run on the driver); with a statement per count, the first 10,000 events of a
# worker spent ~8% of their time compiling.
SIZES = (1, 4, 16, 50, 100)


def placeholders(count: int, name: str = "id") -> list[Any]:
    """`count` parameters `<name>_0` ... for a fixed IN list of that size."""
    return [bindparam(f"{name}_{n}") for n in range(count)]


def arguments(padded: Sequence[Any], name: str = "id") -> dict[str, Any]:
    """The values of `placeholders(len(padded), name)`."""
    return {f"{name}_{n}": value for n, value in enumerate(padded)}


def chunks(keys: Sequence[_Key]) -> Iterator[tuple[list[_Key], int, list[_Key]]]:
    """(chunk, size, the chunk padded to size) for `keys`, in chunks of at most SIZES[-1]. The
    padding repeats the last key, which finds the same row again."""
    for start in range(0, len(keys), SIZES[-1]):
        chunk = list(keys[start : start + SIZES[-1]])
        size = next(size for size in SIZES if size >= len(chunk))
        yield chunk, size, chunk + chunk[-1:] * (size - len(chunk))


def _result_processors(
    conn: Connection, statement: Select[Any] | CompoundSelect[Any]
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, result processor) of the columns that have one."""
    dialect = conn.dialect
    return [
        (position, process)
        for position, column in enumerate(statement.selected_columns)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    ]


def executemany(conn: Connection, statement: Executable, rows: Sequence[dict[str, Any]]) -> None:
    """Run `statement` once per row (every row with the same keys), in one driver call."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(statement, list(rows))
        return
    prepared = _prepare(conn, statement, frozenset(rows[0]))
    _run(conn, prepared.sql, [prepared.values(row) for row in rows], many=True)


def _run(conn: Connection, sql: str, values: Any, *, many: bool) -> list[tuple[Any, ...]]:
    """The statement on a cursor of the connection's sqlite3 connection; its rows, if any."""
    cursor = driver(conn).cursor()
    if conn.dispatch.before_cursor_execute:  # (cheaper than iterating an empty one)
        for listener in conn.dispatch.before_cursor_execute:
            listener(conn, cursor, sql, values, None, many)
    try:
        if many:
            cursor.executemany(sql, values)
            return []
        cursor.execute(sql, values)
        return cursor.fetchall() if cursor.description else []
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, sql, exc) from exc
    finally:
        cursor.close()


def driver(conn: Connection) -> Any:
    """The connection's sqlite3 connection (a pragma sent through SQLAlchemy would begin a
    transaction)."""
    return conn.connection.driver_connection


def _wrapped(conn: Connection, sql: str, exc: Exception) -> StatementError:
    """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, ...), with
    the values left out of the message: they are tickets' contents."""
    return DBAPIError.instance(
        sql,
        None,
        exc,
        conn.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=False,
        dialect=conn.dialect,
    )
