"""YAML configuration -> validated settings.

Secrets are only ever `${ENV_VAR}` references. Values read from the environment are `Secret`
strings whose repr is masked, so they cannot leak through error messages or logs.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from hub import registry, schemas
from hub.sdk.mapping import Mapping, MappingConfigError

if TYPE_CHECKING:
    from hub.tickets.desk_config import DeskConfig

DEFAULT_CONFIG = "config/example.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(ValueError):
    """Everything wrong with a config file, one problem per line, each naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class Secret(str):
    """A string from the environment; its repr never shows the value."""

    def __repr__(self) -> str:
        return "'***'"


def parse_duration(value: float | int | str) -> float:
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 2h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class InstanceConfig:
    id: str
    connector: str
    enabled: bool = True
    description: str = ""
    schedule: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] | None = None
    health: dict[str, Any] = field(default_factory=dict)
    compiled_mapping: Mapping | None = None


@dataclass
class HubSettings:
    database_url: str
    data_dir: Path
    ticket_prefix: str = "REQ"
    base_url: str = "http://127.0.0.1:8080"
    timezone: str = "UTC"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576
    worker_batch_size: int = 100
    worker_batch_seconds: float | None = None  # SQLite: how long a batch may hold the write lock
    worker_synchronous: str = "normal"  # SQLite: "full" syncs every worker commit to disk (WORKER_SYNC)
    worker_interval: float = 1.0
    worker_max_attempts: int = 5
    outbox_interval: float = 5.0
    outbox_max_attempts: int = 8
    outbox_backoff_base: float = 30.0
    outbox_backoff_max: float = 3600.0
    health_silence_after: float = 3600.0
    health_interval: float = 300.0
    health_alert_queue: str = "it"
    health_expiry_warning: dict[str, float] = field(
        default_factory=lambda: {"default": 7200.0, "credential": 14 * 86400.0, "certificate": 30 * 86400.0}
    )
    requests_interval: float = 5.0  # how soon a connector's poll/maintenance request is acted on
    workflows_dir: Path | None = None  # HR workflow templates (hub.hr.workflows)
    drift: dict[str, Any] | None = None  # HR-vs-directory drift check (hub.hr.drift)


@dataclass
class Config:
    path: Path | None
    hub: HubSettings
    instances: list[InstanceConfig]
    desk: DeskConfig = field(default_factory=lambda: _default_desk())  # routing, SLAs, requester updates

    def instance(self, instance_id: str) -> InstanceConfig:
        for inst in self.instances:
            if inst.id == instance_id:
                return inst
        close = difflib.get_close_matches(instance_id, [i.id for i in self.instances], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise LookupError(f"no connector instance {instance_id!r} in {self.path or 'the config'}{hint}")


def _substitute(node: Any, path: list[Any], missing: list[tuple[list[Any], str]]) -> Any:
    """Replace ${VAR} and ${VAR:-default} throughout the document; collect unset variables."""
    if isinstance(node, dict):
        return {k: _substitute(v, [*path, k], missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, [*path, i], missing) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def resolve(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or value == "":
            if default is None:
                missing.append((path, name))
                return ""
            return default
        return value

    return Secret(_ENV_REF.sub(resolve, node))


def _describe(path: list[Any], document: dict[str, Any]) -> str:
    """`instances[1] (id 'intake'): settings.path` from a JSON path."""
    text = ""
    node: Any = document
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
            if _has(node, item) and isinstance(node[item], dict) and "id" in node[item]:
                text += f" (id {str(node[item]['id'])!r}):"
        else:
            text += f" {item}" if text.endswith(":") else (f".{item}" if text else str(item))
        node = node[item] if _has(node, item) else None
    return text.rstrip(":") or "(top level)"


def _has(node: Any, key: Any) -> bool:
    return (isinstance(node, dict) and key in node) or (
        isinstance(node, list) and isinstance(key, int) and key < len(node)
    )


def load_config(path: str | Path | None = None, *, text: str | None = None) -> Config:
    """Read, substitute, validate. Raises ConfigError listing every problem found."""
    file = Path(path) if path else None
    label = str(file) if file else "<config>"
    try:
        raw_text = text if text is not None else file.read_text("utf-8")  # type: ignore[union-attr]
    except OSError as exc:
        raise ConfigError([f"{label}: cannot read: {exc.strerror}"]) from None
    try:
        document = yaml.safe_load(raw_text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError([f"{label}{at}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(document, dict):
        raise ConfigError([f"{label}: the top level must be a mapping with 'instances'"])

    missing: list[tuple[list[Any], str]] = []
    document = _substitute(document, [], missing)
    problems = [f"{label}: {_describe(p, document)}: environment variable {name} is not set" for p, name in missing]
    unset = [p for p, _name in missing]
    for error in sorted(schemas.reference_validator("config").iter_errors(document), key=lambda e: list(e.path)):
        if list(error.absolute_path) not in unset:
            problems.append(f"{label}: {_describe(list(error.absolute_path), document)}: {error.message}")
    if problems:
        raise ConfigError(problems)

    base = file.parent if file else Path.cwd()
    hub = _hub_settings(document.get("hub") or {}, base)
    instances = []
    seen: set[str] = set()
    for index, item in enumerate(document.get("instances") or []):
        where = f"{label}: instances[{index}] (id {item['id']!r})"
        if item["id"] in seen:
            problems.append(f"{where}: id is used twice")
        seen.add(item["id"])
        instance = InstanceConfig(**item)
        problems.extend(f"{where}: {p}" for p in _check_instance(instance))
        instances.append(instance)
    desk, desk_problems = _desk(document.get("desk") or {}, base, label, hub, instances)
    problems.extend(desk_problems)
    if problems:
        raise ConfigError(problems)
    return Config(file, hub, instances, desk)


def _desk(
    section: dict[str, Any], base: Path, label: str, hub: HubSettings, instances: list[InstanceConfig]
) -> tuple[DeskConfig, list[str]]:
    """The `desk` section and the routing file it names (hub.tickets.desk_config)."""
    from hub.tickets.desk_config import load_desk

    classes = {}
    for inst in instances:
        with contextlib.suppress(registry.UnknownConnector):
            classes[inst.id] = registry.get(inst.connector)
    return load_desk(
        section,
        base=base,
        label=label,
        base_url=hub.base_url,
        timezone=hub.timezone,
        data_dir=hub.data_dir,
        instances=classes,
    )


def _default_desk() -> DeskConfig:
    from hub.tickets.desk_config import DeskConfig

    return DeskConfig()


def _check_instance(instance: InstanceConfig) -> list[str]:
    try:
        cls = registry.get(instance.connector)
    except registry.UnknownConnector as exc:
        return [f"connector: {exc}"]
    problems = []
    validator = jsonschema.Draft202012Validator(cls.config_schema, format_checker=jsonschema.FormatChecker())
    for error in sorted(validator.iter_errors(instance.settings), key=lambda e: list(e.path)):
        path = _describe(list(error.absolute_path), instance.settings)
        problems.append(f"settings.{path}: {error.message}" if error.absolute_path else f"settings: {error.message}")
    if instance.mapping is not None:
        if not cls.uses_mapping:
            problems.append(f"mapping: connector {cls.name!r} does not take a mapping")
        else:
            try:
                instance.compiled_mapping = Mapping(instance.mapping)
            except MappingConfigError as exc:
                problems.append(f"mapping.{exc}")
    elif cls.uses_mapping:
        problems.append(f"mapping: connector {cls.name!r} needs a mapping")
    problems.extend(_check_verify(instance, cls))
    if "silence_after" in instance.health:
        try:
            parse_duration(instance.health["silence_after"])
        except ValueError as exc:
            problems.append(f"health.silence_after: {exc}")
    if instance.schedule:
        for key in ("every", "jitter"):
            if key in instance.schedule:
                try:
                    parse_duration(instance.schedule[key])
                except ValueError as exc:
                    problems.append(f"schedule.{key}: {exc}")
    return problems


def _check_verify(instance: InstanceConfig, cls: type) -> list[str]:
    """A `verify` section only makes sense on a pushed connector, and its secrets must decode."""
    if instance.verify is None:
        return []
    from hub.sdk.connector import PushConnector
    from hub.web.verify import VerifyConfigError, build_verifier

    if not issubclass(cls, PushConnector):
        return [f"verify: connector {instance.connector!r} is polled; only pushed connectors verify requests"]
    try:
        build_verifier(instance.verify)
    except VerifyConfigError as exc:
        return [f"verify: {exc}"]
    return []


def default_batch_size(database_url: str) -> int:
    """Events per worker transaction. SQLite has one writer, so big batches only amortize the
    commit. On PostgreSQL a batch holds the row locks of every ticket it touched until it commits,
    so concurrent workers wait on each other's batches: with 100, two workers were no faster than
    one; with 25, 1.8 times (bench/README.md)."""
    return 25 if str(database_url).startswith("postgres") else 100


def _batch_seconds(worker: dict[str, Any], database_url: str) -> float | None:
    """On SQLite a batch holds the only write lock, and every webhook waits for it: a backlog of
    100-event batches (~55-90 ms each) cut intake at 8 connections from 759 to 85 events/s, p99
    219 ms (bench/README.md). So there batches are sized to hold the lock about this long.
    Elsewhere (PostgreSQL) batches are sized by count only; `batch_time: null` turns it off."""
    default = None if str(database_url).startswith("postgres") else DEFAULT_SQLITE_BATCH_SECONDS
    value = worker.get("batch_time", default)
    return None if value is None else parse_duration(value)


DEFAULT_SQLITE_BATCH_SECONDS = 0.02

WORKER_SYNC = """On SQLite the worker's commits are not synced to disk one by one (`synchronous=NORMAL` for
its transactions): each batch is work derived from inbox rows that were synced when they were
received, and its inbox states commit with it, so a batch that a power cut takes back is simply
processed again, like one a killed worker leaves. The next synced commit (a webhook's, a poll's,
the outbox dispatcher's after a delivery) makes every batch before it durable, since the log is
written in order. Syncing each batch cost the worker ~8% at 60,000 events (bench/README.md,
change 41). `hub.worker.synchronous: full` syncs every batch."""


def _hub_settings(section: dict[str, Any], base: Path) -> HubSettings:
    data_dir = Path(section.get("data_dir", "var"))
    if not data_dir.is_absolute():
        data_dir = (base / data_dir).resolve()
    url = os.environ.get("HUB_DATABASE_URL") or section.get("database_url") or f"sqlite:///{data_dir / 'hub.db'}"
    web, worker, outbox = section.get("web", {}), section.get("worker", {}), section.get("outbox", {})
    settings = HubSettings(database_url=str(url), data_dir=data_dir)
    settings.ticket_prefix = section.get("ticket_prefix", settings.ticket_prefix)
    settings.base_url = section.get("base_url", settings.base_url)
    settings.timezone = section.get("timezone", settings.timezone)
    settings.log_level = section.get("log_level", settings.log_level)
    settings.host = web.get("host", settings.host)
    settings.port = web.get("port", settings.port)
    settings.max_body_bytes = web.get("max_body_bytes", settings.max_body_bytes)
    settings.worker_batch_size = worker.get("batch_size", default_batch_size(settings.database_url))
    settings.worker_batch_seconds = _batch_seconds(worker, settings.database_url)
    settings.worker_synchronous = worker.get("synchronous", settings.worker_synchronous)
    settings.worker_interval = parse_duration(worker.get("interval", settings.worker_interval))
    settings.worker_max_attempts = worker.get("max_attempts", settings.worker_max_attempts)
    settings.outbox_interval = parse_duration(outbox.get("interval", settings.outbox_interval))
    settings.outbox_max_attempts = outbox.get("max_attempts", settings.outbox_max_attempts)
    settings.outbox_backoff_base = parse_duration(outbox.get("backoff_base", settings.outbox_backoff_base))
    settings.outbox_backoff_max = parse_duration(outbox.get("backoff_max", settings.outbox_backoff_max))
    health = section.get("health", {})
    settings.health_silence_after = parse_duration(health.get("silence_after", settings.health_silence_after))
    settings.health_interval = parse_duration(health.get("interval", settings.health_interval))
    settings.health_alert_queue = health.get("alert_queue", settings.health_alert_queue)
    for kind, value in (health.get("expiry_warning") or {}).items():
        settings.health_expiry_warning[kind] = parse_duration(value)
    hr = section.get("hr", {})
    workflows = Path(hr.get("workflows", "workflows"))
    settings.workflows_dir = workflows if workflows.is_absolute() else (base / workflows).resolve()
    settings.drift = hr.get("drift")
    return settings


def config_path(explicit: str | None) -> str:
    """--config, then HUB_CONFIG, then config/example.yaml."""
    return explicit or os.environ.get("HUB_CONFIG") or DEFAULT_CONFIG
