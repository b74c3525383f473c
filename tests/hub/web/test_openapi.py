"""Schemathesis against the served OpenAPI document and a live `hub serve`: no 5xx, and no answer
(status, content type, headers, body) that contradicts the document, for valid and invalid input.

It runs schemathesis' own command line (the way an integrator would) with every check enabled.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.hub.web.live import LiveHub, serve

MAX_EXAMPLES = 10  # per operation and phase; keeps the whole suite fast
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    with serve(tmp_path_factory.mktemp("openapi")) as running:
        yield running


def test_api_matches_its_openapi_document(live: LiveHub, tmp_path: Path):
    admin = live.token("schemathesis", "admin")
    # something to find: a ticket and an event the generated ids and numbers can hit
    requests.post(f"{live.url}/api/v1/tickets", json={"title": "Seed"}, headers=admin, timeout=10)
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{live.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: {admin['Authorization']}",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "20261129",
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "30",
            # one worker: schemathesis compiling strategies in two threads at once trips a CPython
            # 3.11 bug ("AST constructor recursion depth mismatch"), failing the run for no fault of ours
            "--workers",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


def test_document_is_openapi_3_1_and_covers_the_api(live: LiveHub):
    doc = requests.get(f"{live.url}/api/v1/openapi.json", timeout=10).json()
    assert doc["openapi"] == "3.1.0"
    assert {"/api/v1/tickets", "/api/v1/tickets/{ref}", "/api/v1/events", "/hooks/{instance_id}"} <= set(doc["paths"])
    assert doc["paths"]["/api/v1/tickets"]["post"]["security"] == [{"bearer": ["tickets:write"]}]
