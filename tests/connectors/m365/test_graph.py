"""Behaviour every Graph call has: tokens (cache, expiry, refresh on 401), throttling storms
(429 + Retry-After, 503/504 backoff), and 403 reported as the missing permission."""

from __future__ import annotations

import pytest

from connectors.m365.permissions import MAIL_READ
from hub.sdk import FatalError, RetriableError
from tests.connectors.m365.conftest import THROTTLED, graph_error

INBOX = "users/servicedesk@contoso.gov/mailFolders/inbox"


def bearer(call) -> str:
    return call.headers["Authorization"].removeprefix("Bearer ")


def test_token_is_cached_between_calls(fake, make_connector):
    fake.on("GET", INBOX, (200, {"id": "inbox"}, {}))
    graph = make_connector().graph
    graph.json("GET", INBOX, needs=MAIL_READ)
    graph.json("GET", INBOX, needs=MAIL_READ)
    assert fake.tokens_issued == 1
    assert bearer(fake.calls[0]) == bearer(fake.calls[1])


def test_a_token_about_to_expire_is_renewed(fake, make_connector):
    fake.token_expires_in = 60  # msal renews tokens that expire within its refresh margin
    fake.on("GET", INBOX, (200, {"id": "inbox"}, {}))
    graph = make_connector().graph
    graph.json("GET", INBOX, needs=MAIL_READ)
    graph.json("GET", INBOX, needs=MAIL_READ)
    assert fake.tokens_issued == 2
    assert bearer(fake.calls[0]) != bearer(fake.calls[1])


def test_401_fetches_a_new_token_once(fake, make_connector):
    expired = graph_error("InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
    fake.on("GET", INBOX, (401, expired, {}), (200, {"id": "inbox"}, {}))
    assert make_connector().graph.json("GET", INBOX, needs=MAIL_READ) == {"id": "inbox"}
    assert fake.tokens_issued == 2
    assert bearer(fake.calls[0]) != bearer(fake.calls[1])


def test_401_with_a_fresh_token_is_a_configuration_error(fake, make_connector):
    fake.on("GET", INBOX, (401, graph_error("InvalidAuthenticationToken", "Access token validation failure."), {}))
    with pytest.raises(FatalError, match="rejected a fresh token"):
        make_connector().graph.json("GET", INBOX, needs=MAIL_READ)
    assert fake.tokens_issued == 2 and len(fake.calls) == 2


def test_bad_client_secret_names_the_aadsts_error(fake, make_connector):
    fake.token_error = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
        "request is the client secret value, not the client secret ID.\r\nTrace ID: 0000",
        "error_codes": [7000215],
    }
    with pytest.raises(FatalError, match="invalid_client: AADSTS7000215: Invalid client secret provided"):
        make_connector().graph.json("GET", INBOX, needs=MAIL_READ)
    assert fake.calls == []


def test_403_names_the_missing_permission(fake, make_connector):
    fake.on(
        "GET", INBOX, (403, graph_error("ErrorAccessDenied", "Access is denied. Check credentials and try again."), {})
    )
    with pytest.raises(FatalError) as info:
        make_connector().graph.json("GET", INBOX, needs=MAIL_READ)
    text = str(info.value)
    assert "application permission Mail.Read or Mail.ReadWrite" in text and "ErrorAccessDenied" in text
    assert "admin consent" in text


def test_throttling_storm_honours_retry_after_then_backs_off(fake, make_connector, recorder):
    fake.on(
        "GET",
        INBOX,
        (429, THROTTLED, {"Retry-After": "3"}),
        (429, THROTTLED, {"Retry-After": "7"}),
        (503, graph_error("serviceNotAvailable", "Service unavailable", 503), {}),
        (504, graph_error("gatewayTimeout", "Gateway timeout", 504), {}),
        (200, {"id": "inbox"}, {}),
    )
    assert make_connector().graph.json("GET", INBOX, needs=MAIL_READ) == {"id": "inbox"}
    assert recorder.waits[:2] == [3.0, 7.0]
    assert 0 <= recorder.waits[2] <= 0.5 * 2**2 and 0 <= recorder.waits[3] <= 0.5 * 2**3  # full-jitter backoff
    assert len(fake.calls) == 5 and fake.tokens_issued == 1


def test_a_long_retry_after_goes_back_to_the_scheduler(fake, make_connector, recorder):
    fake.on("GET", INBOX, (429, THROTTLED, {"Retry-After": "900"}))
    with pytest.raises(RetriableError) as info:
        make_connector().graph.json("GET", INBOX, needs=MAIL_READ)
    assert info.value.retry_after == 900 and recorder.waits == []


def test_an_endless_storm_gives_up_as_retriable(fake, make_connector, recorder):
    fake.on("GET", INBOX, (503, graph_error("serviceNotAvailable", "Service unavailable", 503), {}))
    with pytest.raises(RetriableError, match="gave up after 5 retries"):
        make_connector().graph.json("GET", INBOX, needs=MAIL_READ)
    assert len(fake.calls) == 6 and len(recorder.waits) == 5
