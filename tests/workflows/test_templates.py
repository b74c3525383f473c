"""Template errors name the file, the template and the field; the shipped templates load."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError
from hub.tickets.workflows.templates import load_directory, render

REPO = Path(__file__).resolve().parents[2]
ACTIONS = {
    "m365": {"create_user", "disable_user", "revoke_sessions", "assign_licenses", "remove_licenses", "set_department"}
}


def test_shipped_templates_load():
    found = load_directory(REPO / "config" / "workflows", ACTIONS)
    assert [t.on for t in found.templates] == ["joiner", "mover", "leaver"]


def test_errors_name_file_template_and_field(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        """
templates:
  - name: onboarding
    event: joiner
    title: "Hello {nme}"
    tasks:
      - {key: a, title: A, queue: it, after: [b]}
      - {key: b, title: B, queue: it, after: [a], run: {instance: m365, action: fly}}
      - {key: c, title: C, queue: it, due: soon}
      - {key: d, title: "{nope}", queue: it, run: {instance: ldap, action: x}}
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_directory(tmp_path, ACTIONS)
    text = str(caught.value)
    assert "bad.yaml: template 'onboarding': tasks[2] (key 'c').due" in text


def test_semantic_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        """
templates:
  - name: onboarding
    event: joiner
    title: "Hello {nme}"
    tasks:
      - {key: a, title: A, queue: it, after: [b]}
      - {key: b, title: B, queue: it, after: [a], run: {instance: m365, action: fly}}
      - {key: d, title: "{nope}", queue: it, after: [zz], run: {instance: ldap, action: x}}
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_directory(tmp_path, ACTIONS)
    problems = caught.value.problems
    label = f"{tmp_path / 'bad.yaml'}: template 'onboarding': "
    assert f"{label}title: unknown placeholder {{nme}}" in problems
    assert any(p.startswith(f"{label}tasks: dependencies form a cycle") for p in problems)
    assert any("tasks (key 'b').run.action: 'm365' has no action 'fly'" in p for p in problems)
    assert any("tasks (key 'd').run.instance: no connector instance 'ldap'" in p for p in problems)
    assert any("tasks (key 'd').after: no task 'zz'" in p for p in problems)


def test_render_keeps_types_of_whole_placeholders():
    ctx = {"groups": ["a", "b"], "name": "Sam", "changes": {"department": {"new": "Water"}}}
    assert render({"g": "{groups}", "t": "Hi {name} to {changes.department.new}", "n": 3}, ctx) == {
        "g": ["a", "b"],
        "t": "Hi Sam to Water",
        "n": 3,
    }
