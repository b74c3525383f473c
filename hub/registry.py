"""Connectors are found through the entry-point group `hub.connectors`, built-in or third-party."""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from hub.sdk.connector import Connector

GROUP = "hub.connectors"
_extra: dict[str, type[Connector]] = {}


class UnknownConnector(LookupError):
    pass


def register(cls: type[Connector], name: str | None = None) -> None:
    """Add a connector without packaging it (tests, embedding). Entry points stay the normal way."""
    _extra[name or cls.name] = cls


def unregister(name: str) -> None:
    _extra.pop(name, None)


def names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)} | set(_extra))


def get(name: str) -> type[Connector]:
    if name in _extra:
        return _extra[name]
    for ep in entry_points(group=GROUP, name=name):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise UnknownConnector(f"entry point {name!r} ({ep.value}) is not a Connector class")
        return cls
    close = difflib.get_close_matches(name, names(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(names()) or 'none'}"
    raise UnknownConnector(f"unknown connector {name!r}{hint}")


def all_connectors() -> dict[str, type[Connector]]:
    return {name: get(name) for name in names()}
