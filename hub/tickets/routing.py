"""Routing rules: ordered, declarative, explainable.

A rule is a set of conditions (all must hold) and the fields it sets. Rules run in order on a new
ticket before it is stored; the first match wins unless the rule says `continue: true`, and a
ticket no rule matches goes to the triage queue. Every evaluation can explain itself, so
`hub rules test` shows an admin exactly which condition held or failed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.tickets.calendar import WEEKDAYS, BusinessCalendar, CalendarError, parse_spans

SETTABLE = ("queue", "priority", "category", "assignee", "tags", "sla")
TRACKED = ("queue", "priority", "category", "assignee", "tags", "status")  # recorded in history


@dataclass
class Candidate:
    """What the rules look at: the ticket as it would be stored, and where it came from."""

    data: dict[str, Any]
    instance: str
    channel: str
    at: datetime

    def text(self) -> str:
        return f"{self.data.get('title') or ''}\n{self.data.get('description') or ''}"

    def attribute(self, name: str) -> Any:
        return (self.data.get("attributes") or {}).get(name)

    def department(self) -> Any:
        person = self.attribute("person") if isinstance(self.attribute("person"), dict) else {}
        return self.attribute("department") or person.get("department")

    def requester(self, key: str) -> Any:
        return (self.data.get("requester") or {}).get(key)


Check = Callable[[Candidate], tuple[bool, str]]


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _matches_any(value: Any, patterns: list[str]) -> bool:
    if value is None or value == "":
        return "-" in patterns
    text = str(value).lower()
    return any(fnmatch.fnmatchcase(text, p.lower()) for p in patterns)


def _field_check(label: str, get: Callable[[Candidate], Any], patterns: list[str]) -> Check:
    def check(c: Candidate) -> tuple[bool, str]:
        value = get(c)
        ok = _matches_any(value, patterns)
        verb = "is one of" if ok else "is not one of"
        return ok, f"{label} {value!r} {verb} {patterns}"

    return check


def _domain_check(patterns: list[str]) -> Check:
    def check(c: Candidate) -> tuple[bool, str]:
        email = str(c.requester("email") or "")
        domain = email.rpartition("@")[2].lower() if "@" in email else ""
        ok = bool(domain) and any(
            domain == p.lower() or domain.endswith("." + p.lower()) or fnmatch.fnmatchcase(domain, p.lower())
            for p in patterns
        )
        return ok, f"requester_domain {domain or None!r} {'matches' if ok else 'does not match'} {patterns}"

    return check


def _keyword_check(words: list[str]) -> Check:
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in words) + r")(?!\w)", re.IGNORECASE
    )

    def check(c: Candidate) -> tuple[bool, str]:
        found = pattern.search(c.text())
        if found:
            return True, f"keywords: found {found.group(1)!r} in title/description"
        return False, f"keywords: none of {words} in title/description"

    return check


def _time_check(spec: dict[str, Any], calendars: dict[str, BusinessCalendar], default_tz: str, where: str) -> Check:
    calendar = None
    if "calendar" in spec:
        if spec["calendar"] not in calendars:
            raise CalendarError(f"{where}.calendar: no calendar {spec['calendar']!r}")
        calendar = calendars[spec["calendar"]]
    tz_name = spec.get("timezone") or (calendar.timezone if calendar else default_tz)
    try:
        tz = ZoneInfo(tz_name)
    except Exception:
        raise CalendarError(f"{where}.timezone: unknown time zone {tz_name!r}") from None
    between = None
    if "between" in spec:
        start, end = spec["between"].split("-")
        between = (_minutes(start), _minutes(end))
    if "working_hours" in spec and calendar is None:
        raise CalendarError(f"{where}.working_hours: name the calendar it refers to")
    days = [WEEKDAYS.index(d) for d in spec.get("days", [])]

    def check(c: Candidate) -> tuple[bool, str]:
        local = c.at.astimezone(tz)
        reasons, ok = [], True
        if days:
            hit = local.weekday() in days
            ok &= hit
            reasons.append(f"{WEEKDAYS[local.weekday()]} {'in' if hit else 'not in'} {spec['days']}")
        if between:
            minute = local.hour * 60 + local.minute
            a, b = between
            hit = a <= minute < b if a <= b else (minute >= a or minute < b)
            ok &= hit
            reasons.append(f"{local:%H:%M} {'within' if hit else 'outside'} {spec['between']}")
        if calendar is not None and "working_hours" in spec:
            working = calendar.is_working(c.at)
            hit = working == bool(spec["working_hours"])
            ok &= hit
            reasons.append(f"{'inside' if working else 'outside'} working hours of {calendar.name!r}")
        return ok, f"time ({tz_name}): " + ", ".join(reasons)

    return check


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


_FIELDS: dict[str, Callable[[Candidate], Any]] = {
    "channel": lambda c: c.channel,
    "instance": lambda c: c.instance,
    "type": lambda c: c.data.get("type"),
    "category": lambda c: c.data.get("category"),
    "priority": lambda c: c.data.get("priority"),
    "queue": lambda c: c.data.get("queue"),
    "service_code": lambda c: c.attribute("service_code"),
    "department": lambda c: c.department(),
    "requester_kind": lambda c: c.requester("kind"),
}


def compile_when(
    when: dict[str, Any], calendars: dict[str, BusinessCalendar], default_tz: str, where: str
) -> list[Check]:
    """Conditions -> checks. Raises CalendarError (a ValueError) naming the field."""
    checks: list[Check] = []
    for key, value in when.items():
        here = f"{where}.{key}"
        if key in _FIELDS:
            checks.append(_field_check(key, _FIELDS[key], _as_list(value)))
        elif key == "requester_domain":
            checks.append(_domain_check(_as_list(value)))
        elif key == "keywords":
            checks.append(_keyword_check(_as_list(value)))
        elif key == "attributes":
            for name, patterns in value.items():
                checks.append(_field_check(f"attributes.{name}", _getter(name), _as_list(patterns)))
        elif key == "time":
            checks.append(_time_check(value, calendars, default_tz, here))
        elif key == "any":
            options = [compile_when(w, calendars, default_tz, f"{here}[{i}]") for i, w in enumerate(value)]
            checks.append(_any_check(options))
        elif key == "not":
            checks.append(_not_check(compile_when(value, calendars, default_tz, here)))
    return checks


def _getter(name: str) -> Callable[[Candidate], Any]:
    return lambda c: c.attribute(name)


def _all(checks: list[Check], c: Candidate) -> tuple[bool, list[str]]:
    reasons = []
    for check in checks:
        ok, reason = check(c)
        reasons.append(reason)
        if not ok:
            return False, reasons
    return True, reasons


def _any_check(options: list[list[Check]]) -> Check:
    def check(c: Candidate) -> tuple[bool, str]:
        tried = []
        for index, option in enumerate(options):
            ok, reasons = _all(option, c)
            if ok:
                return True, f"any[{index}]: " + "; ".join(reasons)
            tried.append(reasons[-1] if reasons else "")
        return False, "any: none held (" + "; ".join(tried) + ")"

    return check


def _not_check(inner: list[Check]) -> Check:
    def check(c: Candidate) -> tuple[bool, str]:
        ok, reasons = _all(inner, c)
        return (not ok), f"not ({'; '.join(reasons)})"

    return check


@dataclass
class Rule:
    name: str
    checks: list[Check]
    sets: dict[str, Any]
    keep_going: bool = False
    enabled: bool = True

    def evaluate(self, c: Candidate) -> tuple[bool, list[str]]:
        if not self.checks:
            return True, ["no conditions: always matches"]
        return _all(self.checks, c)


@dataclass
class Trace:
    rule: str
    matched: bool
    reasons: list[str]


@dataclass
class Decision:
    matched: list[str] = field(default_factory=list)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    sla_policy: str | None = None
    triaged: bool = False
    trace: list[Trace] = field(default_factory=list)


def route(rules: list[Rule], c: Candidate, triage_queue: str | None) -> Decision:
    """Evaluate the rules on `c` and change `c.data` accordingly; returns what happened and why.
    A ticket no rule decides (matching rules with `continue` only add) goes to the triage queue."""
    decision = Decision()
    before = {k: c.data.get(k) for k in TRACKED}
    decided = False  # rules with `continue` only add to a ticket; one without it decides
    for rule in rules:
        if not rule.enabled:
            decision.trace.append(Trace(rule.name, False, ["disabled"]))
            continue
        ok, reasons = rule.evaluate(c)
        decision.trace.append(Trace(rule.name, ok, reasons))
        if not ok:
            continue
        decision.matched.append(rule.name)
        _apply(rule.sets, c.data, decision)
        if not rule.keep_going:
            decided = True
            break
    if not decided and triage_queue:
        c.data["queue"] = triage_queue
        decision.triaged = True
    for key, old in before.items():
        if c.data.get(key) != old:
            decision.changes[key] = (old, c.data.get(key))
    return decision


def _apply(sets: dict[str, Any], data: dict[str, Any], decision: Decision) -> None:
    for key, value in sets.items():
        if key == "tags":
            data["tags"] = sorted({*(data.get("tags") or []), *value})
        elif key == "sla":
            decision.sla_policy = value
        else:
            data[key] = value
    if sets.get("assignee") and data.get("status", "new") in ("new", "triaged"):
        data["status"] = "assigned"


def compile_rule(doc: dict[str, Any], calendars: dict[str, BusinessCalendar], default_tz: str, where: str) -> Rule:
    return Rule(
        name=doc["name"],
        checks=compile_when(doc.get("when") or {}, calendars, default_tz, f"{where}: when"),
        sets=dict(doc.get("set") or {}),
        keep_going=bool(doc.get("continue", False)),
        enabled=bool(doc.get("enabled", True)),
    )


__all__ = ["Candidate", "Decision", "Rule", "Trace", "compile_rule", "parse_spans", "route"]
