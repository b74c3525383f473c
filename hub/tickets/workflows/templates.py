"""Workflow templates: YAML files checked against schemas/workflow.schema.json plus the rules a
schema cannot say (known dependencies, no cycles, known placeholders, configured instances and
actions). Every problem names the file, the template and the field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from hub import schemas
from hub.config import ConfigError, parse_duration

PERSON_FIELDS = (
    "employee_id",
    "name",
    "given_name",
    "family_name",
    "email",
    "department",
    "job_title",
    "manager_employee_id",
    "location",
    "cost_center",
)
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
ROOTS = {*PERSON_FIELDS, "person", "effective_at", "effective_date", "changes", "instance", "first_name", "last_name"}


def parse_offset(value: int | str | None) -> timedelta:
    """`-3d`, `+4h`, `0`: seconds relative to an effective date."""
    if value is None:
        return timedelta(0)
    if isinstance(value, int):
        return timedelta(seconds=value)
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    return timedelta(seconds=sign * parse_duration(text.lstrip("+-")))


@dataclass(frozen=True)
class Run:
    instance: str
    action: str
    at: timedelta
    params: dict[str, Any]


@dataclass(frozen=True)
class Task:
    key: str
    title: str
    queue: str
    description: str = ""
    priority: str = "normal"
    due: timedelta = timedelta(0)
    after: tuple[str, ...] = ()
    when: dict[str, Any] = field(default_factory=dict)
    run: Run | None = None


@dataclass(frozen=True)
class Template:
    name: str
    on: str  # joiner | mover | leaver
    title: str
    queue: str
    tasks: tuple[Task, ...]
    priority: str = "normal"
    description: str = ""
    when: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def matches(condition: dict[str, Any], person: dict[str, Any], changes: dict[str, Any]) -> bool:
    """Whether a template's or task's `when` holds for this person (and this move's changes)."""
    for name, wanted in condition.items():
        if name == "not":
            if matches(wanted, person, changes):
                return False
        elif name == "changed":
            if not any(f in changes for f in wanted):
                return False
        else:
            accepted = wanted if isinstance(wanted, list) else [wanted]
            if _lower(person.get(name)) not in {_lower(v) for v in accepted}:
                return False
    return True


def context(person: dict[str, Any], effective_at: str, changes: dict[str, Any], instance: str) -> dict[str, Any]:
    """What placeholders may name: person fields (also under `person.`), effective_at/_date,
    changes.<field>.old/new, first_name/last_name and the HR instance id."""
    name = person.get("name") or " ".join(filter(None, [person.get("given_name"), person.get("family_name")]))
    full = {f: person.get(f) for f in PERSON_FIELDS} | {"name": name or person["employee_id"]}
    return {
        **full,
        "first_name": person.get("given_name"),
        "last_name": person.get("family_name"),
        "person": full,
        "effective_at": effective_at,
        "effective_date": effective_at[:10],
        "changes": changes,
        "instance": instance,
    }


def _lookup(ctx: dict[str, Any], path: str) -> Any:
    node: Any = ctx
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def render(value: Any, ctx: dict[str, Any]) -> Any:
    """Fill `{placeholders}`; a string that is exactly one placeholder keeps the value's type (a
    list of groups stays a list); a missing value renders empty (the action then says what lacks)."""
    if isinstance(value, dict):
        return {k: render(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    if not isinstance(value, str):
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole:
        return _lookup(ctx, whole.group(1))
    return PLACEHOLDER.sub(lambda m: "" if _lookup(ctx, m.group(1)) is None else str(_lookup(ctx, m.group(1))), value)


class TemplateSet:
    """All templates of a directory; `pick` finds the first whose event and condition match."""

    def __init__(self, templates: list[Template]) -> None:
        self.templates = templates

    def pick(self, kind: str, person: dict[str, Any], changes: dict[str, Any]) -> Template | None:
        for template in self.templates:
            if template.on == kind and matches(template.when, person, changes):
                return template
        return None


def load_directory(directory: Path, actions: dict[str, set[str]] | None = None) -> TemplateSet:
    """Read every *.yaml / *.yml file of `directory` (sorted by name: earlier files win for the
    same event). `actions`: instance id -> action names, to check automated steps. Raises
    ConfigError listing every problem."""
    problems: list[str] = []
    templates: list[Template] = []
    if not directory.is_dir():
        return TemplateSet([])
    names: dict[str, str] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        for template in _load_file(path, actions, problems):
            if template.name in names:
                problems.append(f"{path}: template {template.name!r}: name already used in {names[template.name]}")
            names[template.name] = str(path)
            templates.append(template)
    if problems:
        raise ConfigError(problems)
    return TemplateSet(templates)


def _load_file(path: Path, actions: dict[str, set[str]] | None, problems: list[str]) -> list[Template]:
    try:
        document = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path}: cannot read: {exc}")
        return []
    errors = sorted(schemas.reference_validator("workflow").iter_errors(document), key=lambda e: list(e.path))
    for error in errors:
        problems.append(f"{path}: {_where(document, list(error.absolute_path))}: {error.message}")
    if errors:
        return []
    found = []
    for raw in document["templates"]:
        label = f"{path}: template {raw['name']!r}"
        found.append(_build(raw, str(path)))
        problems.extend(f"{label}: {p}" for p in _check(raw, actions))
    return found


def _where(document: Any, parts: list[Any]) -> str:
    """`template 'onboarding': tasks[1] (key 'account').run.action` from a JSON path."""
    if len(parts) >= 2 and parts[0] == "templates" and isinstance(parts[1], int):
        template = document["templates"][parts[1]]
        name = template.get("name") if isinstance(template, dict) else None
        rest = schemas.format_path(parts[2:])
        if len(parts) >= 4 and parts[2] == "tasks" and isinstance(parts[3], int):
            task = template["tasks"][parts[3]]
            key = task.get("key") if isinstance(task, dict) else None
            rest = f"tasks[{parts[3]}] (key {key!r})" + (("." + schemas.format_path(parts[4:])) if parts[4:] else "")
        return f"template {name or parts[1]!r}: {rest or '(template)'}"
    return schemas.format_path(parts) or "(top level)"


def _check(raw: dict[str, Any], actions: dict[str, set[str]] | None) -> list[str]:
    problems = []
    keys = [t["key"] for t in raw["tasks"]]
    for key in {k for k in keys if keys.count(k) > 1}:
        problems.append(f"tasks: key {key!r} is used twice")
    for task in raw["tasks"]:
        where = f"tasks (key {task['key']!r})"
        for dep in task.get("after", []):
            if dep not in keys:
                problems.append(f"{where}.after: no task {dep!r} in this template")
        for name, text in _texts(task):
            for placeholder in PLACEHOLDER.findall(text):
                if placeholder.split(".")[0] not in ROOTS:
                    problems.append(f"{where}.{name}: unknown placeholder {{{placeholder}}}")
        run = task.get("run")
        if run and actions is not None:
            if run["instance"] not in actions:
                problems.append(f"{where}.run.instance: no connector instance {run['instance']!r} in the config")
            elif run["action"] not in actions[run["instance"]]:
                known = ", ".join(sorted(actions[run["instance"]])) or "none"
                problems.append(f"{where}.run.action: {run['instance']!r} has no action {run['action']!r} ({known})")
    for placeholder in PLACEHOLDER.findall(raw["title"]):
        if placeholder.split(".")[0] not in ROOTS:
            problems.append(f"title: unknown placeholder {{{placeholder}}}")
    cycle = _cycle({t["key"]: t.get("after", []) for t in raw["tasks"]})
    if cycle:
        problems.append(f"tasks: dependencies form a cycle: {' -> '.join(cycle)}")
    return problems


def _texts(task: dict[str, Any]) -> list[tuple[str, str]]:
    out = [("title", task["title"]), ("description", task.get("description", ""))]

    def walk(node: Any, where: str) -> None:
        if isinstance(node, str):
            out.append((where, node))
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    walk((task.get("run") or {}).get("params") or {}, "run.params")
    return out


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if state.get(node) == 1:
            return [*trail[trail.index(node) :], node]
        if state.get(node) == 2 or node not in graph:
            return None
        state[node] = 1
        for dep in graph[node]:
            found = visit(dep, [*trail, node])
            if found:
                return found
        state[node] = 2
        return None

    for start in graph:
        found = visit(start, [])
        if found:
            return found
    return None


def _build(raw: dict[str, Any], source: str) -> Template:
    tasks = []
    for t in raw["tasks"]:
        run = t.get("run")
        tasks.append(
            Task(
                key=t["key"],
                title=t["title"],
                queue=t["queue"],
                description=t.get("description", ""),
                priority=t.get("priority", raw.get("priority", "normal")),
                due=parse_offset(t.get("due")),
                after=tuple(t.get("after", [])),
                when=t.get("when", {}),
                run=Run(run["instance"], run["action"], parse_offset(run.get("at")), run.get("params", {}))
                if run
                else None,
            )
        )
    return Template(
        name=raw["name"],
        on=raw["event"],
        title=raw["title"],
        queue=raw.get("queue", "hr"),
        tasks=tuple(tasks),
        priority=raw.get("priority", "normal"),
        description=raw.get("description", ""),
        when=raw.get("when", {}),
        source=source,
    )
