"""Configuration: the example works, broken files get errors naming file, instance and field."""

from __future__ import annotations

import pytest

from hub.config import ConfigError, Secret, load_config, parse_duration
from tests.conftest import REPO


def errors_of(write_config, text: str) -> list[str]:
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_example_config_is_valid():
    config = load_config(REPO / "config" / "example.yaml")
    assert {i.id for i in config.instances} >= {"intake", "finance-exports"}
    assert config.hub.database_url.startswith("sqlite:///") or config.hub.database_url


def test_unknown_field_names_file_instance_and_field(write_config):
    problems = errors_of(
        write_config,
        """
        instances:
          - id: src
            connector: memory
            schedule: {evry: 5m}
        """,
    )
    assert any("hub.yaml: instances[0] (id 'src'): schedule" in p and "evry" in p for p in problems), problems


def test_connector_settings_are_checked_against_its_schema(write_config):
    problems = errors_of(
        write_config,
        """
        instances:
          - id: exports
            connector: files
            settings: {directory: /tmp, page_size: "lots"}
            mapping: {fields: {ticket.create: {title: /a}}}
        """,
    )
    assert len(problems) == 1
    assert "instances[0] (id 'exports')" in problems[0] and "settings.page_size" in problems[0]


def test_unknown_connector_suggests_the_close_name(write_config):
    (problem,) = errors_of(
        write_config,
        """
        instances:
          - id: hook
            connector: webhok
            mapping: {fields: {ticket.create: {title: /a}}}
        """,
    )
    assert "did you mean 'webhook'" in problem


def test_broken_mapping_fails_at_load_naming_the_field(write_config):
    (problem,) = errors_of(
        write_config,
        """
        instances:
          - id: hook
            connector: webhook
            mapping:
              fields:
                ticket.create:
                  title: {path: /a, template: "{b}"}
        """,
    )
    assert "instances[0] (id 'hook'): mapping.fields.ticket.create.title: needs exactly one of" in problem


def test_duplicate_ids_and_yaml_syntax(write_config):
    problems = errors_of(
        write_config,
        """
        instances:
          - {id: a, connector: memory}
          - {id: a, connector: memory}
        """,
    )
    assert any("id is used twice" in p for p in problems)
    (problem,) = errors_of(write_config, "instances: [\n  - {id: a\n")
    assert problem.startswith(str(write_config("x", name="unused.yaml").parent / "hub.yaml") + ":")
    assert "not valid YAML" in problem


def test_secrets_come_from_the_environment_and_never_show(write_config, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t-value")
    path = write_config("""
        instances:
          - id: hook
            connector: webhook
            verify: {scheme: token, secret: "${HOOK_SECRET}"}
            mapping: {fields: {ticket.create: {title: /a}}}
        """)
    secret = load_config(path).instance("hook").verify["secret"]
    assert secret == "s3cr3t-value" and isinstance(secret, Secret)
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in repr({"secret": secret})


def test_secret_in_an_invalid_value_is_masked_in_the_error(write_config, monkeypatch):
    monkeypatch.setenv("PORT_SECRET", "hunter2")
    problems = errors_of(
        write_config,
        """
        hub:
          web: {port: "${PORT_SECRET}"}
        instances: []
        """,
    )
    assert problems and all("hunter2" not in p for p in problems)
    assert "hub.web.port" in problems[0]


def test_missing_environment_variable_is_named(write_config, monkeypatch):
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    (problem,) = errors_of(
        write_config,
        """
        instances:
          - id: hook
            connector: webhook
            verify: {scheme: token, secret: "${NOPE_SECRET}"}
            mapping: {fields: {ticket.create: {title: /a}}}
        """,
    )
    assert "instances[0] (id 'hook'): verify.secret: environment variable NOPE_SECRET is not set" in problem


def test_environment_default_and_database_override(write_config, monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://hub@db/hub")
    path = write_config("""
        hub: {ticket_prefix: "${PREFIX:-SR}"}
        instances: []
        """)
    config = load_config(path)
    assert config.hub.ticket_prefix == "SR"
    assert config.hub.database_url == "postgresql://hub@db/hub"
    monkeypatch.delenv("HUB_DATABASE_URL")
    assert load_config(path).hub.database_url == f"sqlite:///{tmp_path / 'var' / 'hub.db'}"


def test_unknown_instance_lookup_suggests(write_config):
    config = load_config(write_config("instances: [{id: finance, connector: memory}]"))
    with pytest.raises(LookupError, match="did you mean 'finance'"):
        config.instance("finanse")


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), (15, 15)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("database_url", "worker", "expected"),
    [
        ("sqlite:///hub.db", "", 100),
        ("postgresql://hub@db.city.example/hub", "", 25),  # batches hold row locks: keep them short
        ("postgresql://hub@db.city.example/hub", "  worker: {batch_size: 200}\n", 200),
    ],
)
def test_the_worker_batch_size_defaults_by_database(write_config, monkeypatch, database_url, worker, expected):
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    path = write_config(f"hub:\n  database_url: {database_url}\n{worker}instances: []\n")
    assert load_config(path).hub.worker_batch_size == expected


@pytest.mark.parametrize(
    ("database_url", "worker", "expected"),
    [
        ("sqlite:///hub.db", "", 0.02),  # webhooks wait for SQLite's write lock: short turns
        ("sqlite:///hub.db", "  worker: {batch_time: 50ms}\n", 0.05),
        ("sqlite:///hub.db", "  worker: {batch_time: null}\n", None),  # by batch_size only
        ("postgresql://hub@db.city.example/hub", "", None),
        ("postgresql://hub@db.city.example/hub", "  worker: {batch_time: 1s}\n", 1.0),
    ],
)
def test_the_worker_batch_time_defaults_by_database(write_config, monkeypatch, database_url, worker, expected):
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    path = write_config(f"hub:\n  database_url: {database_url}\n{worker}instances: []\n")
    assert load_config(path).hub.worker_batch_seconds == expected


def test_a_batch_time_that_is_not_a_duration_is_refused(write_config):
    with pytest.raises(ConfigError, match="batch_time"):
        load_config(write_config("hub:\n  worker: {batch_time: soon}\ninstances: []\n"))


@pytest.mark.parametrize(("hub", "expected"), [("{}", "normal"), ("{worker: {synchronous: full}}", "full")])
def test_worker_commits_are_synced_per_batch_only_when_asked(write_config, hub, expected):
    path = write_config(f"hub: {hub}\ninstances: []\n")
    assert load_config(path).hub.worker_synchronous == expected


def test_an_unknown_worker_synchronous_is_refused(write_config):
    with pytest.raises(ConfigError, match="synchronous"):
        load_config(write_config("hub:\n  worker: {synchronous: off}\ninstances: []\n"))
