"""Declarative mappings: paths, templates, maps, casts, and errors that say what is wrong."""

from __future__ import annotations

import pytest

from hub.sdk.errors import MappingError
from hub.sdk.mapping import MISSING, Mapping, MappingConfigError, compile_path, compile_template, parse_json

PAYLOAD = {
    "ref": 42,
    "caller": {"name": "Ann Lee", "phones": ["+1-555-0100", "+1-555-0199"]},
    "items": [{"sku": "A"}, {"sku": "B"}],
    "odd/key": {"~tilde": "yes"},
    "when": "2026-11-29T08:14:05-06:00",
    "epoch": 1764400000,
    "urgency": "P1",
    "flag": "Yes",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/caller/name", "Ann Lee"),
        ("caller.name", "Ann Lee"),
        ("caller.phones[1]", "+1-555-0199"),
        ("/caller/phones/0", "+1-555-0100"),
        ("caller.phones.0", "+1-555-0100"),
        ("items[*].sku", ["A", "B"]),
        ("items[-1].sku", "B"),
        ("/odd~1key/~0tilde", "yes"),
    ],
)
def test_paths(path, expected):
    assert compile_path(path)(PAYLOAD) == expected


@pytest.mark.parametrize("path", ["/caller/nope", "caller.phones[5]", "ref.deeper", "items[*].price"])
def test_absent_paths_are_missing_not_errors(path):
    value = compile_path(path)(PAYLOAD)
    assert value is MISSING or value == []


@pytest.mark.parametrize("path", ["a..b", "a[x]", ""])
def test_unparseable_paths_fail_at_compile_time(path):
    with pytest.raises(MappingConfigError):
        compile_path(path)


def test_templates_with_literal_braces_and_missing_values():
    render = compile_template("{{#{ref}}} {caller.name} / {/missing} / {items[*].sku}")
    assert render(PAYLOAD) == "{#42} Ann Lee /  / A, B"


def mapping(fields: dict, **envelope) -> Mapping:
    return Mapping({"fields": {"ticket.create": fields}, **envelope})


def test_maps_casts_defaults_and_first():
    m = mapping(
        {
            "title": {"template": "Call {ref}"},
            "priority": {"path": "/urgency", "map": {"P1": "urgent", "P2": "high"}, "map_default": "normal"},
            "attributes.urgent": {"path": "/flag", "as": "boolean"},
            "attributes.count": {"path": "/ref", "as": "string"},
            "attributes.phone": {"first": ["/caller/mobile", "/caller/phones/0"]},
            "attributes.skus": {"path": "items[*].sku", "join": ";"},
            "category": {"path": "/nope", "default": "general"},
            "requester.kind": {"const": "citizen"},
        },
        external_id="/ref",
        occurred_at="/when",
    )
    event = m.apply(PAYLOAD)
    assert event["type"] == "ticket.create"
    assert event["external_id"] == "42"
    assert event["occurred_at"] == "2026-11-29T14:14:05Z"
    assert event["data"] == {
        "title": "Call 42",
        "priority": "urgent",
        "attributes": {"urgent": True, "count": "42", "phone": "+1-555-0100", "skus": "A;B"},
        "category": "general",
        "requester": {"kind": "citizen"},
    }


def test_map_keys_match_numbers_from_json():
    m = mapping({"title": {"const": "x"}, "priority": {"path": "/level", "map": {"1": "urgent"}}})
    assert m.apply({"level": 1})["data"]["priority"] == "urgent"


def test_event_type_selected_from_payload():
    m = Mapping(
        {
            "event": {"path": "/kind", "map": {"note": "ticket.comment"}, "map_default": "ticket.create"},
            "external_id": "/ref",
            "fields": {"ticket.create": {"title": "/t"}, "ticket.comment": {"body": "/text"}},
        }
    )
    assert m.apply({"kind": "note", "ref": "9", "text": "hi"})["data"] == {"body": "hi"}
    assert m.apply({"kind": "new", "ref": "9", "t": "Title"})["type"] == "ticket.create"


def test_payload_errors_are_mapping_errors_with_field_names():
    m = mapping({"title": {"path": "/subject", "required": True}})
    with pytest.raises(MappingError, match=r"fields.ticket.create.title: required value is missing"):
        m.apply({"summary": "x"})
    bad_cast = mapping({"title": {"const": "x"}, "attributes.n": {"path": "/n", "as": "integer"}})
    with pytest.raises(MappingError, match="cannot read 'abc' as integer"):
        bad_cast.apply({"n": "abc"})
    with pytest.raises(MappingError, match="not valid JSON"):
        parse_json(b'{"a": ')
    no_fields = Mapping({"event": "/kind", "fields": {"ticket.create": {"title": "/t"}}})
    with pytest.raises(MappingError, match=r"ticket\.status"):
        no_fields.apply({"kind": "ticket.status"})


def test_mapping_config_errors_name_the_field():
    with pytest.raises(MappingConfigError, match=r"fields.ticket.create.title: needs exactly one of"):
        mapping({"title": {"default": "x"}})
    with pytest.raises(MappingConfigError, match=r"unknown event type 'ticket\.explode'"):
        Mapping({"fields": {"ticket.explode": {}}})
