"""Canonical schemas, loaded and compiled once.

Two validators exist on purpose: the compiled `jsonschema-rs` one runs on the hot path of every
event (~3 us), the pure-Python `jsonschema` one gives rich error reports for configuration and is
the reference the test suite compares the fast one against.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource

SCHEMA_FILES = ("ticket", "event", "config", "desk", "routing", "notification")


class SchemaError(ValueError):
    """A document does not match its schema; the message names the failing field."""

    def __init__(self, schema: str, path: str, message: str) -> None:
        self.schema, self.path, self.detail = schema, path, message
        super().__init__(f"{schema}: {path or '(document)'}: {message}")


def format_path(parts: Any) -> str:
    """Render a JSON path as `data.requester.email` / `attachments[0].sha256`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed schema `schemas/<name>.schema.json`."""
    text = resources.files("schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _resources() -> list[tuple[str, dict[str, Any]]]:
    return [(load(name)["$id"], load(name)) for name in SCHEMA_FILES]


@cache
def fast_validator(name: str) -> Any:
    """Compiled validator (jsonschema-rs) with formats checked, for the pipeline."""
    registry = jsonschema_rs.Registry(_resources())
    return jsonschema_rs.validator_for(load(name), registry=registry, validate_formats=True)


@cache
def reference_validator(name: str) -> jsonschema.Draft202012Validator:
    """Pure-Python validator with format checks, for readable error reports."""
    registry: Registry = Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in _resources()
    )
    return jsonschema.Draft202012Validator(
        load(name), registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate(name: str, document: Any) -> None:
    """Raise SchemaError naming the first failing field; fast path for valid documents."""
    validator = fast_validator(name)
    if validator.is_valid(document):
        return
    errors = sorted(validator.iter_errors(document), key=lambda e: (len(e.instance_path), e.message))
    # The deepest error is the most specific one ("data.title is required" beats "allOf failed").
    error = max(errors, key=lambda e: len(e.instance_path))
    raise SchemaError(name, format_path(error.instance_path), error.message)


def check_schema(schema: dict[str, Any]) -> None:
    """Raise jsonschema.SchemaError when `schema` is not a valid 2020-12 schema (connector configs)."""
    jsonschema.Draft202012Validator.check_schema(schema)
