"""What normalize() makes of mails as they really arrive: charsets, encoded headers, nested
multiparts, HTML-only mail, attachments, inline images, forwarded mail."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.email import EmailConnector
from hub import schemas
from hub.sdk import ConnectorContext, RawEvent
from tests.connectors.email.mails import mail

ADDRESS = "helpdesk@city.example.gov"


@pytest.fixture
def connector(tmp_path: Path) -> EmailConnector:
    settings = {"address": ADDRESS, "attachments": {"max_bytes": 1000}}
    return EmailConnector(ConnectorContext(instance_id="mail", settings=settings, data_dir=tmp_path))


def normalize(connector: EmailConnector, raw: bytes | EmailMessage) -> dict:
    data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
    (event,) = connector.normalize(RawEvent("k", data, {"x-imap-folder": "INBOX"}, "message/rfc822"))
    schemas.validate(
        "event", {**event, "instance": "mail", "occurred_at": event.get("occurred_at", "2026-11-27T00:00:00Z")}
    )
    return event


def raw(headers: str, body: bytes) -> bytes:
    return headers.strip().replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


def test_encoded_headers_and_declared_charsets(connector):
    event = normalize(
        connector,
        raw(
            """
From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Example.ORG>
To: helpdesk@city.example.gov
Subject: =?iso-8859-1?q?Stra=DFenlaterne_defekt?= =?utf-8?b?IOKAkyBIYXVwdHN0cmHDn2U=?=
Message-ID: <a1@example.org>
Content-Type: text/plain; charset=iso-8859-2
Content-Transfer-Encoding: quoted-printable
""",
            b"P=F8=EDli=B9 =BEluou=E8k=FD k=F9=F2",
        ),
    )
    assert event["actor"] == {"email": "juergen@example.org", "name": "Jürgen Müller"}
    assert event["data"]["title"] == "Straßenlaterne defekt – Hauptstraße"  # noqa: RUF001
    assert event["data"]["description"] == "Příliš žluoučký kůň"


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("iso-8859-1", "Grüße aus Köln".encode(), "Grüße aus Köln"),  # UTF-8 labelled Latin-1 (Outlook)
        ("x-unknown-charset", "Grüße".encode("cp1252"), "Grüße"),  # a charset Python does not know
        (None, "naïve café".encode("cp1252"), "naïve café"),  # 8-bit text with no charset at all
        ("utf-8", b"broken \xff\xfe utf-8", "broken ÿþ utf-8"),  # declared UTF-8 that is not
        ("windows-1252", "“quoted” – €5".encode("cp1252"), "“quoted” – €5"),  # noqa: RUF001
    ],
)
def test_wrong_or_missing_charsets_fall_back_sensibly(connector, charset, body, expected):
    ctype = f"text/plain; charset={charset}" if charset else "text/plain"
    headers = (
        f"From: a@example.org\nSubject: x\nMessage-ID: <c@example.org>\n"
        f"Content-Type: {ctype}\nContent-Transfer-Encoding: 8bit"
    )
    assert normalize(connector, raw(headers, body))["data"]["description"] == expected


def test_raw_8bit_header_is_decoded(connector):
    headers = "From: =?utf-8?q?Ren=C3=A9?= <r@example.org>\nMessage-ID: <h@example.org>\nContent-Type: text/plain"
    data = headers.encode() + "\nSubject: Müll nicht abgeholt\n\nText".encode()
    assert normalize(connector, data)["data"]["title"] == "Müll nicht abgeholt"


def test_html_only_mail_gets_clean_text_and_sanitized_html(connector):
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>Hello,</p><p>the <b>fountain</b> leaks.<script>alert('x')</script></p>"
        "<ul><li>Park: Elm</li><li>Since: Monday</li></ul>"
        '<p><a href="https://map.example.org/p/1" onclick="steal()">map</a> '
        '<a href="javascript:alert(1)">click</a><img src="cid:photo1" alt="photo"></p></body></html>'
    )
    event = normalize(connector, mail("Fountain", None, html=html))
    data = event["data"]
    assert data["description"] == (
        "Hello,\n\nthe fountain leaks.\n\n- Park: Elm\n- Since: Monday\n\n"
        "map (https://map.example.org/p/1) click[photo]"
    )
    assert "<script" not in data["description_html"] and "onclick" not in data["description_html"]
    assert "javascript:" not in data["description_html"] and "<style" not in data["description_html"]
    assert 'src="cid:photo1"' in data["description_html"]
    assert "<b>fountain</b>" in data["description_html"]


def test_nested_multiparts_inline_images_attachments_and_forwarded_mail(connector, tmp_path):
    outer = mail("Graffiti report", "See the photo and the forwarded complaint.", html="<p>See the <b>photo</b>.</p>")
    html_part = outer.get_body(("html",))
    assert html_part is not None
    html_part.add_related(b"\x89PNG-inline", maintype="image", subtype="png", cid="<img1@example.org>")
    forwarded = mail("Complaint", "Someone sprayed the wall again.", sender="neighbour@example.org")
    outer.add_attachment(b"%PDF-1.4 report", maintype="application", subtype="pdf", filename="Bericht Straße.pdf")
    outer.add_attachment(forwarded)
    outer.add_attachment(b"x" * 5000, maintype="application", subtype="zip", filename="../../etc/huge.zip")
    data = normalize(connector, outer)["data"]
    assert data["description"].startswith("See the photo and the forwarded complaint.")
    assert "[attachment huge.zip (5,000 bytes) not stored: over the 1,000 byte limit" in data["description"]
    by_name = {a["name"]: a for a in data["attachments"]}
    assert set(by_name) == {"attachment-1.png", "Bericht Straße.pdf", "Complaint.eml", "huge.zip"}
    pdf = by_name["Bericht Straße.pdf"]
    assert pdf == {
        "name": "Bericht Straße.pdf",
        "content_type": "application/pdf",
        "size": 15,
        "sha256": hashlib.sha256(b"%PDF-1.4 report").hexdigest(),
    }
    store = tmp_path / "attachments"
    assert (store / pdf["sha256"][:2] / pdf["sha256"]).read_bytes() == b"%PDF-1.4 report"
    eml = by_name["Complaint.eml"]
    assert eml["content_type"] == "message/rfc822"
    assert b"Someone sprayed the wall again." in (store / eml["sha256"][:2] / eml["sha256"]).read_bytes()
    assert not (store / by_name["huge.zip"]["sha256"][:2] / by_name["huge.zip"]["sha256"]).exists()
    assert by_name["attachment-1.png"]["content_type"] == "image/png"


def test_threading_fields(connector):
    event = normalize(
        connector,
        mail(
            "Re: [REQ-2026-000042] Pothole",
            "Thanks!\n\nOn Mon, Ann wrote:\n> old",
            in_reply_to="<hub.1@city.example.gov>",
            references=["<root@example.org>", "<hub.1@city.example.gov>"],
            message_id="<new@example.org>",
        ),
    )
    assert event["thread_refs"] == ["<new@example.org>"]
    assert event["in_reply_to"] == ["<hub.1@city.example.gov>", "<root@example.org>"]
    assert event["ticket_number"] == "REQ-2026-000042"
    assert event["data"]["title"] == "Re: Pothole"
    assert event["data"]["reply_body"] == "Thanks!"
    assert event["data"]["description"].endswith("> old")  # a new ticket keeps the whole text


def test_mail_without_sender_is_dead_lettered(connector):
    from hub.sdk import SkipRecord

    with pytest.raises(SkipRecord, match="From"):
        connector.normalize(RawEvent("k", b"Subject: x\r\n\r\nbody", {}, "message/rfc822"))
