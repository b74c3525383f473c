"""Fuzzing the mail parser: whatever bytes arrive, normalize answers with canonical events, an
`ignored` reason or a dead-letter reason, never a crash."""

from __future__ import annotations

from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import load_config
from hub.pipeline.normalize import normalize
from hub.runtime import Hub
from hub.sdk import IgnoreRecord, RawEvent, SkipRecord
from hub.store.db import make_engine
from tests.connectors.email.conftest import config_text

SETTINGS = {
    "address": "helpdesk@city.example.gov",
    "employee_domains": ["city.example.gov"],
    "imap": {"host": "imap.invalid", "security": "tls", "username": "u", "password": "p"},
    "replies": {"transport": "none"},
}


def seed() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.org>"
    msg["To"] = "helpdesk@city.example.gov"
    msg["Subject"] = "=?utf-8?q?Schlagloch_vor_dem_Rathaus?= [REQ-2026-000001]"
    msg["Message-ID"] = "<seed@example.org>"
    msg["In-Reply-To"] = "<earlier@city.example.gov>"
    msg.set_content("Bitte reparieren.\n\n> quoted\n-- \nAnn")
    msg.add_alternative("<p>Bitte <b>reparieren</b><script>x()</script></p>", subtype="html")
    msg.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="photo.png")
    return msg.as_bytes()


SEED = seed()
mutations = st.lists(
    st.tuples(st.integers(0, len(SEED) - 1), st.binary(min_size=0, max_size=8)), min_size=1, max_size=12
)


def mutate(edits: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(SEED)
    for position, replacement in edits:
        data[position : position + len(replacement) or position + 1] = replacement
    return bytes(data)


_hubs: dict[str, Hub] = {}


def mail_hub(tmp_path_factory) -> Hub:
    if "hub" not in _hubs:
        tmp = tmp_path_factory.mktemp("mailfuzz")
        path = tmp / "hub.yaml"
        path.write_text(config_text(SETTINGS).replace("{data_dir}", str(tmp / "var")))
        _hubs["hub"] = Hub(load_config(path), engine=make_engine(f"sqlite:///{tmp / 'x.db'}"))
    return _hubs["hub"]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=mutations.map(mutate) | st.binary(max_size=400) | st.just(SEED))
def test_any_bytes_normalize_or_are_rejected_with_a_reason(tmp_path_factory, body):
    hub = mail_hub(tmp_path_factory)
    try:
        events = normalize(hub, "mail", RawEvent("k", body, {"x-imap-folder": "INBOX"}, "message/rfc822"))
    except (SkipRecord, IgnoreRecord) as exc:
        assert str(exc)
    else:
        assert events and all(e["instance"] == "mail" for e in events)
