"""The contract every registered connector must meet, built-in, third-party or the reference one."""

from __future__ import annotations

import pytest
import yaml

from hub import registry, schemas
from hub.config import load_config
from hub.pipeline.normalize import normalize
from hub.runtime import Hub
from hub.sdk import Connector, PolledConnector, PushConnector
from hub.sdk.mapping import Mapping
from hub.store.db import make_engine

NAMES = ["memory", *registry.names()]  # "memory" is registered by conftest at session start


@pytest.fixture(params=sorted(set(NAMES)))
def connector_cls(request: pytest.FixtureRequest) -> type[Connector]:
    return registry.get(request.param)


def test_name_matches_registration_and_kind(connector_cls):
    assert registry.get(connector_cls.name) is connector_cls
    assert issubclass(connector_cls, PolledConnector | PushConnector)
    if connector_cls.__module__.startswith("connectors."):
        # built-in connectors live in connectors/<name>/
        assert connector_cls.__module__.split(".")[1] == connector_cls.name


def test_config_schema_is_valid_and_channel_known(connector_cls):
    schemas.check_schema(connector_cls.config_schema)
    assert connector_cls.channel in schemas.load("ticket")["$defs"]["channel"]["enum"]


def test_ships_examples(connector_cls):
    assert connector_cls.contract_examples(), "a connector must ship at least one example for the contract suite"


def test_example_config_validates_and_normalize_output_matches_schemas(connector_cls, tmp_path):
    for index, (instance, raws) in enumerate(connector_cls.contract_examples()):
        doc = {
            "hub": {"data_dir": str(tmp_path)},
            "instances": [{"id": f"x{index}", "connector": connector_cls.name, **instance}],
        }
        path = tmp_path / f"c{index}.yaml"
        path.write_text(yaml.safe_dump(doc))
        config = load_config(path)
        assert config.instances[0].connector == connector_cls.name
        if instance.get("mapping"):
            assert isinstance(config.instances[0].compiled_mapping, Mapping)
        hub = Hub(config, engine=make_engine(f"sqlite:///{tmp_path / 'unused.db'}"))  # normalize touches no DB
        for raw in raws:
            events = normalize(hub, f"x{index}", raw)
            assert events, "examples must produce at least one canonical event"
            for event in events:
                schemas.validate("event", event)
                assert event["instance"] == f"x{index}"


def test_actions_are_callable_methods(connector_cls):
    for name, method in connector_cls.action_names().items():
        assert name and callable(getattr(connector_cls, method))
