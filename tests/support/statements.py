"""What SQL an engine sends: for tests that check how many statements a change costs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def on_statement(engine: Engine, callback: Callable[[str], None]) -> Iterator[None]:
    """`callback(statement)` just before each statement the engine sends meanwhile."""

    def hook(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        callback(statement)

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", hook)


@contextmanager
def recorded(engine: Engine, *prefixes: str) -> Iterator[list[str]]:
    """The statements sent meanwhile that start with one of `prefixes` (case-insensitive; all
    statements without prefixes)."""
    seen: list[str] = []
    wanted = tuple(p.upper() for p in prefixes)

    def record(statement: str) -> None:
        if not wanted or statement.lstrip().upper().startswith(wanted):
            seen.append(statement)

    with on_statement(engine, record):
        yield seen
