"""Signature schemes, proved against the Standard Webhooks reference vector and library."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks

from hub.config import ConfigError, load_config
from hub.web.verify import VerificationError, VerifyConfigError, build_verifier

# The published test vector (spec repository, libraries/*/tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + base64.b64encode(b"another key of 32 bytes length!!").decode()


def sw(*secrets: str, tolerance: str | None = None):
    config = {"scheme": "standard_webhooks", "secrets": list(secrets)}
    if tolerance:
        config["tolerance"] = tolerance
    return build_verifier(config)


def vector_headers(signature: str = VECTOR_SIG) -> dict[str, str]:
    return {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS), "webhook-signature": signature}


@pytest.fixture
def at_vector_time(fake_clock):
    fake_clock.current = datetime.fromtimestamp(VECTOR_TS, UTC)
    return fake_clock


def test_signing_reproduces_the_spec_vector(at_vector_time):
    headers = sw(VECTOR_SECRET).sign(VECTOR_BODY, msg_id=VECTOR_ID)
    assert headers == vector_headers()


def test_spec_vector_verifies_and_a_changed_byte_does_not(at_vector_time):
    verifier = sw(VECTOR_SECRET)
    verifier.verify(vector_headers(), VECTOR_BODY)
    with pytest.raises(VerificationError) as err:
        verifier.verify(vector_headers(), VECTOR_BODY.replace(b"2", b"3", 1))
    assert err.value.kind == "signature"
    # the secret without its prefix is accepted too, as the reference libraries do
    sw(VECTOR_SECRET.removeprefix("whsec_")).verify(vector_headers(), VECTOR_BODY)


def test_reference_library_and_ours_accept_each_other():
    body = b'{"event": "request.created", "n": 1}'
    library = standardwebhooks.Webhook(VECTOR_SECRET)
    now = datetime.now(UTC)
    sent = {
        "webhook-id": "msg_lib",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": library.sign("msg_lib", now, body.decode()),
    }
    sw(VECTOR_SECRET).verify(sent, body)
    ours = sw(VECTOR_SECRET).sign(body)
    assert library.verify(body, ours) == {"event": "request.created", "n": 1}


def test_several_signatures_and_rotated_secrets(at_vector_time):
    # the sender signs with two keys during its rotation; unknown versions are skipped
    noise = "v1a,AAAA v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    sw(VECTOR_SECRET).verify(vector_headers(f"{noise} {VECTOR_SIG}"), VECTOR_BODY)
    # we accept the old and the new secret while an admin rotates ours
    sw(OTHER_SECRET, VECTOR_SECRET).verify(vector_headers(), VECTOR_BODY)
    with pytest.raises(VerificationError):
        sw(OTHER_SECRET).verify(vector_headers(), VECTOR_BODY)
    with pytest.raises(VerificationError):
        sw(VECTOR_SECRET).verify(vector_headers(noise), VECTOR_BODY)


@pytest.mark.parametrize(("offset", "word"), [(301, "old"), (-301, "future")])
def test_timestamp_outside_tolerance_is_refused(at_vector_time, offset, word):
    at_vector_time.advance(seconds=offset)
    with pytest.raises(VerificationError) as err:
        sw(VECTOR_SECRET).verify(vector_headers(), VECTOR_BODY)
    assert err.value.kind == "timestamp" and word in err.value.reason
    # inside a configured, wider tolerance the same request is fine
    sw(VECTOR_SECRET, tolerance="10m").verify(vector_headers(), VECTOR_BODY)


def test_timestamp_at_the_edge_of_tolerance_is_accepted(at_vector_time):
    at_vector_time.advance(seconds=300)
    sw(VECTOR_SECRET).verify(vector_headers(), VECTOR_BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(at_vector_time, missing):
    headers = vector_headers()
    del headers[missing]
    with pytest.raises(VerificationError, match=f"missing {missing}"):
        sw(VECTOR_SECRET).verify(headers, VECTOR_BODY)


def test_reasons_never_contain_secret_or_signature(at_vector_time):
    verifier = sw(VECTOR_SECRET)
    for headers in (vector_headers("v1,AAAA"), {**vector_headers(), "webhook-timestamp": "soon"}):
        with pytest.raises(VerificationError) as err:
            verifier.verify(headers, VECTOR_BODY)
        text = str(err.value)
        assert VECTOR_SECRET[6:] not in text and "AAAA" not in text and "2432232314" not in text


def _hmac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def test_hmac_github_style_hex_and_base64():
    body = b'{"action": "opened"}'
    mac = _hmac(b"k3y", body)
    github = build_verifier(
        {"scheme": "hmac_sha256", "secret": "k3y", "header": "X-Hub-Signature-256", "prefix": "sha256="}
    )
    github.verify({"X-Hub-Signature-256": "sha256=" + mac.hex()}, body)
    github.verify({"x-hub-signature-256": "sha256=" + mac.hex().upper()}, body)
    with pytest.raises(VerificationError, match="does not start with"):
        github.verify({"X-Hub-Signature-256": mac.hex()}, body)
    with pytest.raises(VerificationError, match="does not match"):
        github.verify({"X-Hub-Signature-256": "sha256=" + mac.hex()}, body + b" ")
    plain = build_verifier({"scheme": "hmac_sha256", "secret": "k3y"})
    plain.verify({"X-Signature": mac.hex()}, body)
    with pytest.raises(VerificationError, match="not hex"):
        plain.verify({"X-Signature": "zz"}, body)
    b64 = build_verifier({"scheme": "hmac_sha256", "secrets": ["old", "k3y"], "header": "X-Sig", "encoding": "base64"})
    b64.verify({"X-Sig": base64.b64encode(mac).decode()}, body)
    assert b64.sign(body) == {"X-Sig": base64.b64encode(_hmac(b"old", body)).decode()}


def test_shared_token_in_authorization_or_own_header():
    bearer = build_verifier({"scheme": "token", "secret": "tok-123"})
    bearer.verify({"Authorization": "Bearer tok-123"}, b"{}")
    with pytest.raises(VerificationError, match="not accepted"):
        bearer.verify({"Authorization": "Bearer tok-124"}, b"{}")
    with pytest.raises(VerificationError, match="missing Authorization"):
        bearer.verify({}, b"{}")
    api_key = build_verifier({"scheme": "token", "secret": "tok-123", "header": "X-Api-Key"})
    api_key.verify({"x-api-key": "tok-123"}, b"{}")


def test_scheme_none_accepts_and_missing_section_refuses():
    build_verifier({"scheme": "none"}).verify({}, b"anything")
    with pytest.raises(VerificationError) as err:
        build_verifier(None).verify({}, b"{}")
    assert err.value.kind == "unconfigured"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"scheme": "standard_webhooks", "secret": "whsec_not base64!"}, "not whsec_"),
        ({"scheme": "standard_webhooks", "secret": "whsec_c2hvcnQ="}, "too short"),
        ({"scheme": "hmac_sha256"}, "needs `secret`"),
    ],
)
def test_bad_verify_sections_are_refused(config, message):
    with pytest.raises(VerifyConfigError, match=message):
        build_verifier(config)


def test_config_load_reports_bad_verify_by_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("BAD_SECRET", "whsec_%%%")
    path = tmp_path / "hub.yaml"
    path.write_text(
        f"""
hub: {{data_dir: {tmp_path}}}
instances:
  - id: hook
    connector: webhook
    verify: {{scheme: standard_webhooks, secret: "${{BAD_SECRET}}"}}
    mapping: {{fields: {{ticket.create: {{title: /t}}}}}}
  - id: src
    connector: memory
    verify: {{scheme: none}}
"""
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "(id 'hook'): verify: secret is not whsec_" in text
    assert "(id 'src'): verify: connector 'memory' is polled" in text
    assert "%%%" not in text


def test_sign_uses_current_time(fake_clock):
    headers = sw(VECTOR_SECRET).sign(b"{}")
    assert headers["webhook-timestamp"] == str(int(fake_clock.current.timestamp()))
    fake_clock.advance(seconds=299)
    sw(VECTOR_SECRET).verify(headers, b"{}")
    fake_clock.current += timedelta(seconds=2)
    with pytest.raises(VerificationError):
        sw(VECTOR_SECRET).verify(headers, b"{}")
