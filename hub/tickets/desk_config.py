"""The `desk` section of the config and the routing file it names -> checked settings.

Admins change routing, SLA targets, calendars and messages in YAML, not code. Every problem is
reported with the file, the rule (by position and name) and the field, all at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from hub import schemas
from hub.tickets.calendar import BusinessCalendar, CalendarError, expand_days, parse_spans
from hub.tickets.routing import Rule, compile_rule

PRIORITIES = ("low", "normal", "high", "urgent")
NOTIFY_KINDS = ("acknowledgement", "assigned", "comment", "waiting", "resolved", "cancelled")


@dataclass(frozen=True)
class Targets:
    first_response: float | None = None  # business seconds
    resolution: float | None = None


@dataclass
class Policy:
    name: str
    calendar: str
    queues: tuple[str, ...]
    warn_at: float
    targets: dict[str, Targets]

    def for_priority(self, priority: str) -> Targets:
        return self.targets.get(priority) or Targets()


@dataclass
class QueueSettings:
    department: str | None = None
    notify: dict[str, Any] | None = None


@dataclass
class DuplicateSettings:
    enabled: bool = False
    window: float = 30 * 86400.0
    distance_m: float = 50.0
    categories: tuple[str, ...] = ()
    types: tuple[str, ...] = ("citizen_request",)


@dataclass
class NotificationSettings:
    enabled: bool = True
    kinds: tuple[str, ...] = NOTIFY_KINDS
    callback_instance: str | None = None
    messages: dict[str, str] = field(default_factory=dict)


@dataclass
class DeskConfig:
    routing_file: Path | None = None
    triage_queue: str | None = None
    rules: list[Rule] = field(default_factory=list)
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    default_calendar: BusinessCalendar = field(default_factory=BusinessCalendar.always)
    policies: dict[str, Policy] = field(default_factory=dict)
    default_policy: str | None = None
    queues: dict[str, QueueSettings] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)  # newest first; empty: generated on first use
    public_url: str = "http://127.0.0.1:8080"
    status_link_max_age: float | None = None
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    survey_enabled: bool = True
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    data_dir: Path | None = None

    def calendar(self, name: str | None) -> BusinessCalendar:
        return self.calendars.get(name or "", self.default_calendar)

    def department_of(self, queue: str | None) -> str | None:
        settings = self.queues.get(queue or "")
        return settings.department if settings else None

    def signing_keys(self) -> list[str]:
        """Keys for status links, newest first. Without a configured key, one is generated once
        into data_dir/secret.key (fine for one node; several nodes must share HUB_SECRET_KEY)."""
        if self.secret_keys:
            return self.secret_keys
        if self.data_dir is None:
            raise RuntimeError("desk.secret_key is not set and there is no data_dir to keep a generated one")
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        self.secret_keys = [path.read_text().strip()]
        return self.secret_keys


def describe(path: list[Any], document: Any) -> str:
    """`rules[2] (name 'potholes'): when.keywords` from a JSON path into the routing file."""
    text, node = "", document
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                label = node[item].get("name") or node[item].get("id")
                if label:
                    text += f" (name {str(label)!r}):"
        else:
            text += f" {item}" if text.endswith(":") else (f".{item}" if text else str(item))
        node = node[item] if isinstance(node, dict | list) and _has(node, item) else None
    return text.rstrip(":") or "(top level)"


def _has(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(key, int) and key < len(node)


def business_seconds(text: str) -> float:
    """'30m' / '4h' / '1.5h' of working time -> seconds."""
    return float(text[:-1]) * (60 if text.endswith("m") else 3600)


def load_desk(
    section: dict[str, Any],
    *,
    base: Path,
    label: str,
    base_url: str,
    timezone: str,
    data_dir: Path,
    instances: dict[str, Any],
) -> tuple[DeskConfig, list[str]]:
    """Build the desk settings; returns (settings, problems). `instances` maps id -> connector class."""
    from hub.config import parse_duration

    desk = DeskConfig(public_url=str(section.get("public_url") or base_url).rstrip("/"), data_dir=data_dir)
    desk.default_calendar = BusinessCalendar.always(_tz_or_utc(timezone))
    problems: list[str] = []
    keys = [str(section.get("secret_key") or ""), *map(str, section.get("old_secret_keys") or [])]
    desk.secret_keys = [k for k in keys if k] if keys[0] else []
    max_age = section.get("status_link_max_age")
    note = NotificationSettings()
    notes = section.get("notifications") or {}
    note.enabled = notes.get("enabled", True)
    note.kinds = tuple(notes.get("kinds") or NOTIFY_KINDS)
    note.callback_instance = notes.get("callback_instance")
    note.messages = dict(notes.get("messages") or {})
    desk.notifications = note
    desk.survey_enabled = (section.get("survey") or {}).get("enabled", True)
    dup = section.get("duplicates") or {}
    try:
        desk.status_link_max_age = parse_duration(max_age) if max_age is not None else None
        desk.duplicates = DuplicateSettings(
            enabled=bool(dup.get("enabled", bool(dup))),
            window=parse_duration(dup.get("window", "30d")),
            distance_m=float(dup.get("distance_m", 50)),
            categories=tuple(c.lower() for c in dup.get("categories") or ()),
            types=tuple(dup.get("types") or ("citizen_request",)),
        )
    except ValueError as exc:
        problems.append(f"{label}: desk: {exc}")
    if note.callback_instance:
        cls = instances.get(note.callback_instance)
        if cls is None:
            problems.append(f"{label}: desk.notifications.callback_instance: no instance {note.callback_instance!r}")
        elif "callback" not in cls.action_names():
            problems.append(
                f"{label}: desk.notifications.callback_instance: connector of {note.callback_instance!r} "
                "has no `callback` action"
            )
    if section.get("routing"):
        path = Path(section["routing"])
        desk.routing_file = path if path.is_absolute() else (base / path)
        problems.extend(_load_routing(desk, timezone, instances))
    return desk, problems


def _tz_or_utc(name: str) -> str:
    try:
        BusinessCalendar.always(name)
        return name
    except CalendarError:
        return "UTC"


def _load_routing(desk: DeskConfig, timezone: str, instances: dict[str, Any]) -> list[str]:
    assert desk.routing_file is not None
    label = str(desk.routing_file)
    try:
        document = yaml.safe_load(desk.routing_file.read_text("utf-8")) or {}
    except OSError as exc:
        return [f"{label}: cannot read: {exc.strerror}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        return [f"{label}{at}: not valid YAML: {getattr(exc, 'problem', exc)}"]
    document = _plain(document)
    errors = sorted(schemas.reference_validator("routing").iter_errors(document), key=lambda e: list(e.path))
    if errors:
        return [f"{label}: {describe(list(e.absolute_path), document)}: {e.message}" for e in errors]
    problems: list[str] = []
    desk.triage_queue = document["triage_queue"]
    for name, spec in (document.get("calendars") or {}).items():
        try:
            desk.calendars[name] = _calendar(name, spec)
        except CalendarError as exc:
            problems.append(f"{label}: calendars.{name}.{exc}")
    if "default_calendar" in document:
        if document["default_calendar"] in desk.calendars:
            desk.default_calendar = desk.calendars[document["default_calendar"]]
        else:
            problems.append(f"{label}: default_calendar: no calendar {document['default_calendar']!r}")
    problems.extend(f"{label}: {p}" for p in _policies(desk, document.get("sla") or {}))
    for queue, spec in (document.get("queues") or {}).items():
        desk.queues[queue] = QueueSettings(spec.get("department"), spec.get("notify"))
        target = (spec.get("notify") or {}).get("instance")
        if target and target not in instances:
            problems.append(f"{label}: queues.{queue}.notify.instance: no instance {target!r}")
        elif target and "notify" not in instances[target].action_names():
            problems.append(f"{label}: queues.{queue}.notify.instance: connector of {target!r} has no `notify` action")
        elif (spec.get("notify") or {}).get("url") and not desk.notifications.callback_instance:
            problems.append(f"{label}: queues.{queue}.notify.url: set desk.notifications.callback_instance to send it")
    for index, doc in enumerate(document.get("rules") or []):
        where = describe(["rules", index], document)
        try:
            desk.rules.append(compile_rule(doc, desk.calendars, timezone, where))
        except (CalendarError, ValueError) as exc:
            problems.append(f"{label}: {exc}")
            continue
        policy = (doc.get("set") or {}).get("sla")
        if policy and policy not in desk.policies:
            problems.append(f"{label}: {where}: set.sla: no SLA policy {policy!r}")
    names = [r.get("name") for r in document.get("rules") or []]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{label}: rules: the name {name!r} is used twice")
    return problems


def _plain(node: Any) -> Any:
    """YAML turns 2026-12-25 into a date; the schema expects text."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node.isoformat() if isinstance(node, date) else node


def _calendar(name: str, spec: dict[str, Any]) -> BusinessCalendar:
    week: dict[int, tuple[tuple[int, int], ...]] = {}
    for key, spans in spec["hours"].items():
        parsed = parse_spans(spans, f"hours.{key}")
        for day in expand_days(key, f"hours.{key}"):
            if day in week:
                raise CalendarError(f"hours.{key}: a weekday is listed twice")
            week[day] = parsed
    holidays = {}
    for index, item in enumerate(spec.get("holidays") or []):
        entry = item if isinstance(item, dict) else {"date": item}
        holidays[date.fromisoformat(entry["date"])] = parse_spans(entry.get("hours", []), f"holidays[{index}].hours")
    return BusinessCalendar(name, spec["timezone"], week, holidays)


def _policies(desk: DeskConfig, sla: dict[str, Any]) -> list[str]:
    problems = []
    warn_default = float(sla.get("warn_at", 0.8))
    for index, doc in enumerate(sla.get("policies") or []):
        where = f"sla.policies[{index}] (name {doc['name']!r})"
        if doc["calendar"] not in desk.calendars:
            problems.append(f"{where}: calendar: no calendar {doc['calendar']!r}")
        if doc["name"] in desk.policies:
            problems.append(f"{where}: name: used twice")
        targets = {
            priority: Targets(
                business_seconds(t["first_response"]) if "first_response" in t else None,
                business_seconds(t["resolution"]) if "resolution" in t else None,
            )
            for priority, t in doc["targets"].items()
        }
        warn = float(doc.get("warn_at", warn_default))
        desk.policies[doc["name"]] = Policy(doc["name"], doc["calendar"], tuple(doc.get("queues") or ()), warn, targets)
    default = sla.get("default_policy")
    if default and default not in desk.policies:
        problems.append(f"sla.default_policy: no SLA policy {default!r}")
    desk.default_policy = default
    return problems
