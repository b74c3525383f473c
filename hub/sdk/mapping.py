"""Declarative payload mappings: admins map any JSON payload onto canonical events in YAML.

A value spec is a path (JSON Pointer `/a/0/b` or dotted `a.b[0]`, `items[*].name` for every
element) or an object with one source (`path`, `const`, `template`, `first`) and optional
post-processing (`map`, `map_default`, `as`, `join`, `default`, `required`). Specs are compiled
once at start-up, so a broken mapping fails when the hub starts, not on the first request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub import clock, jsonutil
from hub.sdk.errors import MappingError

EVENT_TYPES = (
    "ticket.create",
    "ticket.comment",
    "ticket.status",
    "ticket.update",
    "person.joiner",
    "person.mover",
    "person.leaver",
)
MISSING: Any = object()
Getter = Callable[[Any], Any]


class MappingConfigError(ValueError):
    """The mapping itself is wrong; raised at start-up with the field it concerns."""


def parse_json(body: bytes) -> Any:
    try:
        return jsonutil.loads(body)
    except jsonutil.JSONDecodeError as exc:
        raise MappingError(f"body is not valid JSON: {exc}") from None


_DOTTED_TOKEN = re.compile(r"([^.\[\]]+)|\[(\*|-?\d+)\]")


def compile_path(path: str) -> Getter:
    """Compile a JSON Pointer (RFC 6901) or dotted path into a getter returning MISSING if absent."""
    if path.startswith("/"):
        tokens: list[str | int] = [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
    else:
        tokens = []
        pos = 0
        for match in _DOTTED_TOKEN.finditer(path):
            if match.start() not in (pos, pos + 1) or (match.start() == pos + 1 and path[pos] != "."):
                raise MappingConfigError(f"cannot parse path {path!r} near position {pos}")
            name, index = match.groups()
            tokens.append(name if name is not None else ("*" if index == "*" else int(index)))
            pos = match.end()
        if pos != len(path) or not tokens:
            raise MappingConfigError(f"cannot parse path {path!r}")

    def get(node: Any, rest: list[str | int] = tokens) -> Any:
        for i, token in enumerate(rest):
            if token == "*":
                if not isinstance(node, list):
                    return MISSING
                found = [get(item, rest[i + 1 :]) for item in node]
                return [v for v in found if v is not MISSING]
            if isinstance(node, dict):
                node = node.get(str(token), MISSING)
            elif isinstance(node, list):
                try:
                    node = node[int(token)]
                except (ValueError, IndexError):
                    return MISSING
            else:
                return MISSING
            if node is MISSING:
                return MISSING
        return node

    return get


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")


def compile_template(template: str) -> Getter:
    """`{caller.name} at {/location/address}`; `{{`/`}}` are literal braces; absent values are empty."""
    parts: list[str | Getter] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(template[pos : match.start()])
        token = match.group(0)
        parts.append(token[0] if token in ("{{", "}}") else compile_path(match.group(1).strip()))
        pos = match.end()
    parts.append(template[pos:])

    def render(payload: Any) -> str:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = part(payload)
                out.append("" if value is MISSING or value is None else _text(value))
        return "".join(out).strip()

    return render


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return jsonutil.dumps(value)
    return str(value)


def _cast(value: Any, kind: str) -> Any:
    try:
        if kind == "string":
            return _text(value)
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "y", "on")
            return bool(value)
        if kind == "datetime":
            return clock.isoformat(clock.parse(value))
        if kind == "lower":
            return _text(value).lower()
        if kind == "upper":
            return _text(value).upper()
        if kind == "list":
            return value if isinstance(value, list) else [value]
    except (TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise MappingError(f"cannot read {_text(value)[:80]!r} as {kind}: {exc}") from None
    raise MappingConfigError(f"unknown cast {kind!r}")


def compile_value(spec: Any, where: str) -> Getter:
    """Compile a value spec; `where` names it in errors (e.g. 'fields.ticket.create.title')."""
    try:
        if isinstance(spec, str):
            return compile_path(spec)
        if not isinstance(spec, dict):
            raise MappingConfigError("expected a path or an object")
        sources = [k for k in ("path", "const", "template", "first") if k in spec]
        if len(sources) != 1:
            raise MappingConfigError("needs exactly one of path, const, template, first")
        source = sources[0]
        get: Getter
        if source == "path":
            get = compile_path(spec["path"])
        elif source == "const":
            constant = spec["const"]
            get = lambda _payload: constant  # noqa: E731
        elif source == "template":
            get = compile_template(spec["template"])
        else:
            options = [compile_value(s, f"{where}.first[{i}]") for i, s in enumerate(spec["first"])]
            get = _first_of(options)
        return _post_process(get, spec, where)
    except MappingConfigError as exc:
        raise MappingConfigError(f"{where}: {exc}") from None


def _first_of(options: list[Getter]) -> Getter:
    def first(payload: Any) -> Any:
        for option in options:
            value = option(payload)
            if value not in (MISSING, None, "", []):
                return value
        return MISSING

    return first


def _post_process(get: Getter, spec: dict[str, Any], where: str) -> Getter:
    table = {str(k): v for k, v in (spec.get("map") or {}).items()}
    has_map, map_default = "map" in spec, spec.get("map_default", MISSING)
    kind, join = spec.get("as"), spec.get("join")
    default, required = spec.get("default", MISSING), bool(spec.get("required", False))

    def value_of(payload: Any) -> Any:
        value = get(payload)
        if value in (None, "", []):
            value = MISSING
        if value is not MISSING and has_map:
            key = _text(value)
            value = table.get(key, value if map_default is MISSING else map_default)
        if value is not MISSING and kind:
            value = _cast(value, kind)
        if value is not MISSING and join is not None and isinstance(value, list):
            value = join.join(_text(v) for v in value)
        if value is MISSING:
            value = default
        if value is MISSING and required:
            raise MappingError(f"{where}: required value is missing from the payload")
        return value

    return value_of


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


class Mapping:
    """A compiled mapping: payload -> one canonical event (without `instance`, which the core sets)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        event = spec.get("event", "ticket.create")
        if isinstance(event, str) and event in EVENT_TYPES:
            self._event: Getter = lambda _payload: event
        else:
            self._event = compile_value(event, "event")
        self._envelope = {
            name: compile_value(spec[name], name)
            for name in ("external_id", "occurred_at", "thread_refs", "in_reply_to", "ticket_number")
            if name in spec
        }
        self._dedup = compile_value(spec["dedup_key"], "dedup_key") if "dedup_key" in spec else None
        self._actor = {k: compile_value(v, f"actor.{k}") for k, v in (spec.get("actor") or {}).items()}
        fields = spec.get("fields") or {}
        unknown = sorted(set(fields) - set(EVENT_TYPES))
        if unknown:
            raise MappingConfigError(f"fields: unknown event type {unknown[0]!r}")
        self._fields = {
            etype: {t: compile_value(v, f"fields.{etype}.{t}") for t, v in targets.items()}
            for etype, targets in fields.items()
        }

    @property
    def has_dedup_key(self) -> bool:
        return self._dedup is not None

    def dedup_key(self, payload: Any) -> str:
        value = self._dedup(payload) if self._dedup else MISSING
        return "" if value is MISSING else _text(value)

    def apply(self, payload: Any, received_at: datetime | None = None) -> dict[str, Any]:
        etype = self._event(payload)
        if etype is MISSING or etype not in EVENT_TYPES:
            raise MappingError(f"event: {etype if etype is not MISSING else 'nothing'!r} is not an event type")
        targets = self._fields.get(etype)
        if targets is None:
            raise MappingError(f"mapping has no fields for event type {etype!r}")
        event: dict[str, Any] = {"type": etype}
        for name, get in self._envelope.items():
            value = get(payload)
            if value not in (MISSING, None, "", []):
                if name in ("thread_refs", "in_reply_to"):
                    value = [_text(v) for v in (value if isinstance(value, list) else [value])]
                elif name == "occurred_at":
                    value = _cast(value, "datetime")
                else:
                    value = _text(value)
                event[name] = value
        event.setdefault("occurred_at", clock.isoformat(received_at or clock.now()))
        actor = {k: v for k, get in self._actor.items() if (v := get(payload)) is not MISSING}
        if actor:
            event["actor"] = actor
        data: dict[str, Any] = {}
        for target, get in targets.items():
            value = get(payload)
            if value is not MISSING:
                _set_dotted(data, target, value)
        event["data"] = data
        return event
