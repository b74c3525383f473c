"""SCIM filters and PATCH paths (RFC 7644 3.4.2.2, 3.5.2): a tokenizer, a recursive-descent
parser to a small tree, and its evaluation over resource documents. No eval anywhere.

Precedence: `not` binds tighter than `and`, which binds tighter than `or`. String comparisons are
case-insensitive (the attributes we serve are caseExact=false, as for userName in RFC 7643).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from hub.web.scim.schema import resolve

COMPARE = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<punct>[()\[\]])|(?P<word>[A-Za-z0-9_:.$\-+]+))')


class FilterError(ValueError):
    """The filter or path cannot be parsed; answered as 400 invalidFilter / invalidPath."""


@dataclass(frozen=True)
class Compare:
    path: tuple[str, ...]
    op: str
    value: Any = None


@dataclass(frozen=True)
class Logical:
    op: str  # and | or
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class ValuePath:
    path: tuple[str, ...]
    inner: Node


Node = Compare | Logical | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """`attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`."""

    attr: tuple[str, ...]
    where: Node | None = None
    sub: str | None = None


def tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, kind: str) -> None:
        self.items = tokens(text)
        self.i = 0
        self.kind = kind  # "resource" or the complex attribute a value filter runs inside

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.i] if self.i < len(self.items) else None

    def take(self) -> tuple[str, str]:
        item = self.peek()
        if item is None:
            raise FilterError("the filter ends too early")
        self.i += 1
        return item

    def word_is(self, *words: str) -> bool:
        item = self.peek()
        return item is not None and item[0] == "word" and item[1].lower() in words

    def expect(self, value: str) -> None:
        _kind, text = self.take()
        if text != value:
            raise FilterError(f"expected {value!r}, found {text!r}")

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.word_is("or"):
            self.take()
            node = Logical("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_unary()
        while self.word_is("and"):
            self.take()
            node = Logical("and", node, self.parse_unary())
        return node

    def parse_unary(self) -> Node:
        if self.word_is("not"):
            self.take()
            self.expect("(")
            inner = self.parse_or()
            self.expect(")")
            return Not(inner)
        item = self.peek()
        if item is not None and item[1] == "(":
            self.take()
            inner = self.parse_or()
            self.expect(")")
            return inner
        return self.parse_attr()

    def parse_attr(self) -> Node:
        kind, text = self.take()
        if kind != "word" or text.lower() in COMPARE | {"and", "or", "not", "pr"}:
            raise FilterError(f"expected an attribute path, found {text!r}")
        path = resolve(text)
        item = self.peek()
        if item is not None and item[1] == "[":
            self.take()
            inner = self.parse_or()
            self.expect("]")
            return ValuePath(path, inner)
        kind, op = self.take()
        op = op.lower()
        if op == "pr":
            return Compare(path, "pr")
        if op not in COMPARE:
            raise FilterError(f"unknown operator {op!r} (use eq ne co sw ew gt ge lt le pr)")
        return Compare(path, op, self.value())

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return json.loads(text)
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise FilterError(f"{text!r} is not a value (quote strings)") from None


def parse(text: str) -> Node:
    parser = _Parser(text, "resource")
    node = parser.parse_or()
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()[1]!r} after the filter")  # type: ignore[index]
    return node


def parse_path(text: str) -> PatchPath:
    """A PATCH `path`. The part in brackets is a filter on the attribute's values."""
    bracket = text.find("[")
    if bracket < 0:
        return _split(resolve(text))
    close = text.rfind("]")
    if close < bracket:
        raise FilterError(f"path {text!r} has an unclosed '['")
    where = parse(text[bracket + 1 : close])
    rest = text[close + 1 :]
    if rest and not rest.startswith("."):
        raise FilterError(f"unexpected {rest!r} after ']' in path {text!r}")
    return PatchPath(resolve(text[:bracket]), where, rest[1:] or None)


def _split(parts: tuple[str, ...]) -> PatchPath:
    """`name.givenName` -> attr (name,) sub givenName; extension attributes keep their URN."""
    size = 2 if parts[0].startswith("urn:") else 1
    return PatchPath(parts[:size], None, parts[size] if len(parts) > size else None)


def values_at(doc: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value at `path` (multi-valued attributes flattened), keys matched case-insensitively."""
    nodes = [doc]
    for part in path:
        found = []
        for node in nodes:
            node_items = node if isinstance(node, list) else [node]
            for item in node_items:
                if isinstance(item, dict):
                    value = get_ci(item, part)
                    if value is not None:
                        found.append(value)
        nodes = found
    flat: list[Any] = []
    for node in nodes:
        flat.extend(node if isinstance(node, list) else [node])
    return flat


def get_ci(doc: dict[str, Any], key: str) -> Any:
    if key in doc:
        return doc[key]
    lowered = key.lower()
    for name, value in doc.items():
        if name.lower() == lowered:
            return value
    return None


def matches(node: Node, doc: Any) -> bool:
    if isinstance(node, Logical):
        if node.op == "and":
            return matches(node.left, doc) and matches(node.right, doc)
        return matches(node.left, doc) or matches(node.right, doc)
    if isinstance(node, Not):
        return not matches(node.inner, doc)
    if isinstance(node, ValuePath):
        return any(matches(node.inner, item) for item in _elements(doc, node.path) if isinstance(item, dict))
    values = values_at(doc, node.path)
    if node.op == "pr":
        return any(v not in (None, "", [], {}) for v in values)
    if node.op == "ne":
        return not any(_compare("eq", v, node.value) for v in values)
    return any(_compare(node.op, v, node.value) for v in values)


def _elements(doc: Any, path: tuple[str, ...]) -> list[Any]:
    """The elements of a multi-valued (or single complex) attribute, for `attr[filter]`."""
    node: Any = doc
    for part in path:
        node = get_ci(node, part) if isinstance(node, dict) else None
    if node is None:
        return []
    return node if isinstance(node, list) else [node]


def _compare(op: str, have: Any, want: Any) -> bool:
    if isinstance(have, dict):  # a complex value compares by its `value` sub-attribute
        have = get_ci(have, "value")
    if isinstance(want, bool) or isinstance(have, bool):
        return op == "eq" and have == want
    if want is None:
        return op == "eq" and have is None
    if isinstance(have, str) and isinstance(want, str):
        a, b = have.lower(), want.lower()
    elif isinstance(have, int | float) and isinstance(want, int | float):
        a, b = have, want  # type: ignore[assignment]
    else:
        a, b = str(have).lower(), str(want).lower()
    if op == "eq":
        return a == b
    if op == "co":
        return isinstance(a, str) and b in a
    if op == "sw":
        return isinstance(a, str) and a.startswith(b)
    if op == "ew":
        return isinstance(a, str) and a.endswith(b)
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
