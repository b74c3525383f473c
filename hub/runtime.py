"""The running hub: configuration, database engine and connector instances, built once."""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hub import registry
from hub.config import Config, InstanceConfig
from hub.sdk.connector import Connector, ConnectorContext
from hub.store.db import make_engine

# The hub serving each engine, for code that only has a connection (ticket change listeners run
# inside service functions called by the worker, the CLI or the web layer). The newest wins.
_by_engine: weakref.WeakKeyDictionary[Engine, Hub] = weakref.WeakKeyDictionary()


def hub_for(engine: Engine) -> Hub | None:
    """The Hub built over `engine` in this process, if any."""
    return _by_engine.get(engine)


class Hub:
    def __init__(self, config: Config, engine: Engine | None = None) -> None:
        self.config = config
        self.settings = config.hub
        self.engine = engine or make_engine(config.hub.database_url)
        self._connectors: dict[str, Connector] = {}
        self._lock = threading.Lock()
        self._workflows: Any = None
        _by_engine[self.engine] = self
        from hub.outbox import follow_up

        follow_up.install()
        from hub.tickets.workflows import progress

        progress.install()

        from hub.tickets import desk

        desk.install()

    def instance(self, instance_id: str) -> InstanceConfig:
        return self.config.instance(instance_id)

    def connector(self, instance_id: str) -> Connector:
        """The connector object of an instance, built on first use and then shared."""
        found = self._connectors.get(instance_id)  # (called per event: no lock once built)
        if found is not None:
            return found
        with self._lock:
            found = self._connectors.get(instance_id)
            if found is None:
                found = self._build(self.instance(instance_id))
                self._connectors[instance_id] = found
            return found

    @property
    def workflows(self) -> Any:
        """The HR workflow templates (hub.tickets.workflows.templates.TemplateSet), loaded once;
        a bad template raises ConfigError naming the file, template and field."""
        with self._lock:
            if self._workflows is None:
                from hub.tickets.workflows.templates import load_directory

                directory = self.settings.workflows_dir
                self._workflows = load_directory(directory, self.actions()) if directory else None
            return self._workflows

    def actions(self) -> dict[str, set[str]]:
        """Instance id -> the action names its connector offers."""
        return {i.id: set(registry.get(i.connector).action_names()) for i in self.config.instances}

    def _build(self, inst: InstanceConfig) -> Connector:
        cls = registry.get(inst.connector)
        context = ConnectorContext(
            instance_id=inst.id,
            settings=inst.settings,
            data_dir=self.settings.data_dir / "instances" / inst.id,
            base_dir=self.config.path.parent if self.config.path else Path.cwd(),
            defaults=inst.defaults,
            mapping=inst.compiled_mapping,
            report_expiry=lambda kind, at: self._report_expiry(inst.id, kind, at),
            request_poll=lambda: self._request(inst.id, "poll"),
            request_maintenance=lambda: self._request(inst.id, "maintenance"),
            logger=logging.getLogger(f"hub.connector.{inst.id}"),
        )
        return cls(context)

    def _report_expiry(self, instance_id: str, kind: str, at: Any) -> None:
        from hub.pipeline.state import record_expiry

        record_expiry(self.engine, instance_id, kind, at)

    def _request(self, instance_id: str, what: str) -> None:
        from hub.pipeline.state import request

        request(self.engine, instance_id, what)

    def close(self) -> None:
        self.engine.dispose()
