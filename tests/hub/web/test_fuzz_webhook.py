"""Fuzzing the webhook endpoint: no input gets a 500, every answer is a documented status, and
whatever is acknowledged was stored."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hub.fuzz.test_fuzz_pipeline import json_values
from tests.hub.web.conftest import inbox_count, signed

DOCUMENTED = {200, 202, 400, 401, 404, 405, 411, 413, 415}
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=json_values | st.binary(max_size=300),
    sign=st.booleans(),
    content_type=content_types,
    instance=st.sampled_from(["intake", "form", "github", "nope", "src"]),
    junk_headers=st.dictionaries(
        st.sampled_from(
            ["webhook-id", "webhook-timestamp", "webhook-signature", "Authorization", "X-Hub-Signature-256"]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
        max_size=3,
    ),
)
def test_webhook_never_fails_with_a_server_error(client, web_hub, payload, sign, content_type, instance, junk_headers):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = dict(junk_headers)
    if sign:
        body, signed_headers = signed(body)
        headers.update(signed_headers)
    headers["Content-Type"] = content_type
    before = inbox_count(web_hub)
    answer = client.post(f"/hooks/{instance}", data=body, headers=headers)
    assert answer.status_code in DOCUMENTED, answer.get_data(as_text=True)
    if answer.status_code >= 400:
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert inbox_count(web_hub) == before
    elif answer.status_code == 202:
        assert inbox_count(web_hub) == before + 1
