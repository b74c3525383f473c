"""The shared HTTP client: retries, Retry-After, the status table, and paging styles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
import responses

from hub import clock
from hub.sdk.errors import FatalError, RetriableError, SkipRecord
from hub.sdk.http import HttpClient, classify, retry_after_seconds

API = "https://api.example.gov"


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(waits) -> HttpClient:
    return HttpClient(base_url=API, sleep=waits.append, max_retries=3, backoff_base=0.5, max_wait=120)


@responses.activate
def test_retry_after_is_honoured_then_success(client, waits):
    responses.get(f"{API}/items", status=429, headers={"Retry-After": "7"})
    responses.get(f"{API}/items", status=503)
    responses.get(f"{API}/items", json={"ok": True})
    assert client.get_json("/items") == {"ok": True}
    assert waits[0] == 7.0
    assert 0 <= waits[1] <= 1.0  # backoff with full jitter: base * 2**1
    assert len(responses.calls) == 3


@responses.activate
def test_retry_after_http_date(client, waits):
    clock.set_clock(lambda: datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC))
    responses.get(f"{API}/x", status=429, headers={"Retry-After": "Sun, 29 Nov 2026 12:00:30 GMT"})
    responses.get(f"{API}/x", json={})
    client.get_json("/x")
    assert waits == [30.0]


@responses.activate
def test_long_retry_after_is_handed_to_the_scheduler(client, waits):
    responses.get(f"{API}/x", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(RetriableError) as info:
        client.get_json("/x")
    assert info.value.retry_after == 3600 and waits == []


@responses.activate
def test_gives_up_after_budget_as_retriable(client, waits):
    responses.get(f"{API}/x", status=502)
    with pytest.raises(RetriableError, match="gave up after 3 retries"):
        client.get_json("/x")
    assert len(responses.calls) == 4 and len(waits) == 3


@responses.activate
def test_connection_errors_are_retried(client, waits):
    responses.get(f"{API}/x", body=requests.ConnectionError("reset by peer"))
    responses.get(f"{API}/x", json={"n": 1})
    assert client.get_json("/x") == {"n": 1}
    assert len(waits) == 1


@responses.activate
def test_auth_errors_are_fatal_and_bad_requests_skip(client):
    responses.get(f"{API}/secret", status=403, json={"error": {"code": "Authorization_RequestDenied"}})
    responses.get(f"{API}/bad", status=400, body="invalid filter")
    with pytest.raises(FatalError, match="Authorization_RequestDenied"):
        client.get_json("/secret")
    with pytest.raises(SkipRecord, match="invalid filter"):
        client.get_json("/bad")


@responses.activate
def test_expected_statuses_are_returned(client):
    responses.get(f"{API}/users/nobody", status=404)
    assert client.request("GET", "/users/nobody", expect=(404,)).status_code == 404


@responses.activate
def test_auth_header_is_fresh_on_every_attempt(waits):
    tokens = iter(["t1", "t2"])
    client = HttpClient(base_url=API, sleep=waits.append, auth=lambda: {"Authorization": f"Bearer {next(tokens)}"})
    responses.get(f"{API}/x", status=503)
    responses.get(f"{API}/x", json={})
    client.get_json("/x")
    assert [c.request.headers["Authorization"] for c in responses.calls] == ["Bearer t1", "Bearer t2"]


@responses.activate
def test_next_link_paging(client):
    responses.get(f"{API}/messages", json={"value": [1, 2], "@odata.nextLink": f"{API}/messages?$skiptoken=a"})
    responses.get(f"{API}/messages?$skiptoken=a", json={"value": [3], "@odata.deltaLink": f"{API}/d?token=z"})
    pages = list(client.paginate_next_link("/messages"))
    assert [v for p in pages for v in p["value"]] == [1, 2, 3]
    assert pages[-1]["@odata.deltaLink"].endswith("token=z")


@responses.activate
def test_link_header_cursor_and_offset_paging(client):
    responses.get(f"{API}/a", json=[1], headers={"Link": f'<{API}/a?page=2>; rel="next"'})
    responses.get(f"{API}/a?page=2", json=[2])
    assert [r.json() for r in client.paginate_link_header("/a")] == [[1], [2]]

    responses.get(f"{API}/c", json={"items": [1], "next": "n2"}, match=[responses.matchers.query_param_matcher({})])
    responses.get(
        f"{API}/c", json={"items": [2], "next": None}, match=[responses.matchers.query_param_matcher({"cursor": "n2"})]
    )
    assert [p["items"] for p in client.paginate_cursor("/c", cursor_param="cursor", cursor_key="next")] == [[1], [2]]

    responses.get(
        f"{API}/Users",
        json={"Resources": [1, 2]},
        match=[responses.matchers.query_param_matcher({"startIndex": "1", "count": "2"})],
    )
    responses.get(
        f"{API}/Users",
        json={"Resources": [3]},
        match=[responses.matchers.query_param_matcher({"startIndex": "3", "count": "2"})],
    )
    pages = client.paginate_offset(
        "/Users", items_key="Resources", offset_param="startIndex", limit_param="count", limit=2, start=1
    )
    assert [p["Resources"] for p in pages] == [[1, 2], [3]]


def test_status_table():
    assert [classify(s) for s in (200, 204, 301, 400, 401, 403, 404, 408, 429, 500, 503)] == [
        "ok",
        "ok",
        "ok",
        "skip",
        "fatal",
        "fatal",
        "skip",
        "retry",
        "retry",
        "retry",
        "retry",
    ]
    assert retry_after_seconds("garbage") is None and retry_after_seconds(None) is None


@responses.activate
def test_malformed_answers_are_temporary_faults(client):
    responses.get(f"{API}/x", body="<html>502 Bad Gateway</html>", status=200, content_type="text/html")
    with pytest.raises(RetriableError, match="malformed JSON"):
        client.get_json("/x")
