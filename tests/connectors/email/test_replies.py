"""Answers through the outbox to a real SMTP server (aiosmtpd): acknowledgements, agents'
comments, status mails, threading headers, replies to our mails, bounces, SMTP failures."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from hub.outbox.dispatcher import dispatch_due
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain
from hub.store.db import read, write
from hub.store.tables import outbox
from hub.tickets import queries, service
from tests.connectors.email.mails import mail, reply_to
from tests.connectors.email.test_intake import comments, tickets

AGENT = service.Actor("agent:maria")


def cycle(hub) -> None:
    """What the running hub does on its own: poll, process, deliver."""
    report = poll_instance(hub, "mail")
    assert report.error is None, report.error
    drain(hub)
    dispatch_due(hub)


def outbox_rows(hub) -> list:
    with read(hub.engine) as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


def history(hub, ticket_id: int) -> list[dict]:
    with read(hub.engine) as conn:
        return queries.history(conn, ticket_id)


def test_new_ticket_is_acknowledged_with_threading_and_auto_submitted(mail_hub, dovecot, mailbox, smtp):
    hub = mail_hub()
    original = mail("Pothole on Main St", cc=["bob@example.org"], message_id="<orig-1@example.org>")
    dovecot.append(mailbox, original)
    cycle(hub)
    (ticket,) = tickets(hub)
    (sent,) = smtp.received
    msg = sent.message
    assert sent.mail_from == "helpdesk@city.example.gov"
    assert sorted(sent.rcpt_tos) == ["ann@example.org", "bob@example.org"]
    assert msg["To"] == "ann@example.org" and msg["Cc"] == "bob@example.org"
    assert msg["Subject"] == f"[{ticket['number']}] Received: Pothole on Main St"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["In-Reply-To"] == "<orig-1@example.org>"
    assert msg["References"] == "<orig-1@example.org>"
    assert msg["Message-ID"].startswith("<hub.") and msg["Message-ID"].endswith("@city.example.gov>")
    assert ticket["number"] in msg.get_content()
    (row,) = outbox_rows(hub)
    assert row.state == "done" and row.ticket_id == ticket["id"]
    assert any(h["action"] == "action_done" and "acknowledgement mail" in h["new"] for h in history(hub, ticket["id"]))
    cycle(hub)
    assert len(smtp.received) == 1  # nothing is sent twice


def test_reply_to_our_mail_threads_into_the_ticket_without_an_echo(mail_hub, dovecot, mailbox, smtp):
    hub = mail_hub()
    dovecot.append(mailbox, mail("Noise complaint"))
    cycle(hub)
    ack = smtp.received[0].message
    answer = reply_to(ack, "It happens every night after 11pm.", sender="ann@example.org")
    answer.replace_header("To", "helpdesk@city.example.gov")
    answer.replace_header("Subject", "Re: your request")  # no number: threading by headers alone
    dovecot.append(mailbox, answer)
    cycle(hub)
    (ticket,) = tickets(hub)
    assert [c["body"] for c in comments(hub, ticket["id"])] == ["It happens every night after 11pm."]
    assert len(smtp.received) == 1  # the requester's own words are not mailed back


def test_agent_comments_and_status_changes_are_mailed(mail_hub, dovecot, mailbox, smtp):
    hub = mail_hub()
    dovecot.append(mailbox, mail("Broken swing", message_id="<swing@example.org>"))
    cycle(hub)
    (ticket,) = tickets(hub)
    now = datetime.now(UTC)
    with write(hub.engine) as conn:
        service.add_comment(
            conn,
            ticket["id"],
            {"body": "internal: crew B", "public": False},
            actor=AGENT,
            now=now,
            from_requester=False,
        )
        service.add_comment(
            conn,
            ticket["id"],
            {"body": "A crew will fix it on Tuesday.", "author": {"name": "Maria"}},
            actor=AGENT,
            now=now,
            from_requester=False,
        )
        service.change_status(conn, ticket["id"], "in_progress", actor=AGENT, now=now)
        service.change_status(conn, ticket["id"], "resolved", actor=AGENT, now=now)
    dispatch_due(hub)
    ack, comment, status = (r.message for r in smtp.received)
    assert comment["Subject"] == f"[{ticket['number']}] Re: Broken swing"
    assert "A crew will fix it on Tuesday." in comment.get_content()
    assert "Maria" in comment.get_content()
    assert comment["Auto-Submitted"] is None  # a person wrote it
    assert comment["In-Reply-To"] == "<swing@example.org>"
    assert status["Subject"] == f"[{ticket['number']}] Resolved: Broken swing"
    assert status["Auto-Submitted"] == "auto-generated"
    assert "reply to this message" in status.get_content()
    assert len({m["Message-ID"] for m in (ack, comment, status)}) == 3


def test_reply_to_status_mail_reopens_the_resolved_ticket(mail_hub, dovecot, mailbox, smtp):
    hub = mail_hub()
    dovecot.append(mailbox, mail("Streetlight out"))
    cycle(hub)
    (ticket,) = tickets(hub)
    with write(hub.engine) as conn:
        service.change_status(conn, ticket["id"], "resolved", actor=AGENT, now=datetime.now(UTC))
    dispatch_due(hub)
    status_mail = smtp.received[-1].message
    answer = reply_to(status_mail, "Still dark tonight.", sender="ann@example.org")
    answer.replace_header("To", "helpdesk@city.example.gov")
    dovecot.append(mailbox, answer)
    cycle(hub)
    (ticket,) = tickets(hub)
    assert ticket["status"] == "new"
    assert [c["body"] for c in comments(hub, ticket["id"])] == ["Still dark tonight."]


def test_bounce_marks_the_notification_failed_on_the_ticket(mail_hub, dovecot, mailbox, smtp):
    hub = mail_hub()
    dovecot.append(mailbox, mail("Tree down", sender="gone@example.org"))
    cycle(hub)
    (ticket,) = tickets(hub)
    ack_id = smtp.received[0].message["Message-ID"]
    dsn = f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: helpdesk@city.example.gov
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="XX"

--XX
Content-Type: text/plain

This is the mail system. Your message could not be delivered.
--XX
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Arrival-Date: Fri, 27 Nov 2026 15:00:00 +0000

Final-Recipient: rfc822; gone@example.org
Original-Recipient: rfc822;gone@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown
--XX
Content-Type: message/rfc822

{smtp.received[0].data.decode()}
--XX--
""".replace("\n", "\r\n")
    dovecot.append(mailbox, dsn.encode())
    cycle(hub)
    assert len(tickets(hub)) == 1  # a bounce never opens a ticket
    (row,) = outbox_rows(hub)
    assert row.state == "dead"
    assert "gone@example.org" in row.last_error and "5.1.1" in row.last_error
    failed = [h for h in history(hub, ticket["id"]) if h["action"] == "delivery_failed"]
    assert len(failed) == 1 and failed[0]["field"] == "send_reply" and "User unknown" in failed[0]["new"]
    (note,) = comments(hub, ticket["id"])
    assert note["public"] is False and note["body"].startswith("delivery failed: returned as undeliverable")
    assert len(smtp.received) == 1  # and nobody is mailed about it
    assert ack_id in smtp.received[0].data.decode()


def test_bounce_of_a_mail_we_did_not_send_is_ignored(mail_hub, dovecot, mailbox, smtp):
    hub = mail_hub()
    dsn = mail(
        "Undelivered Mail Returned to Sender",
        "Your message to x@example.org could not be delivered.",
        sender="MAILER-DAEMON@mx.example.org",
    )
    dovecot.append(mailbox, dsn)
    cycle(hub)
    assert tickets(hub) == [] and smtp.received == []


def test_temporary_smtp_failure_is_retried_and_permanent_failure_shows_on_the_ticket(
    mail_hub, dovecot, mailbox, smtp, fake_clock
):
    hub = mail_hub()
    smtp.handler.replies.extend(["451 4.3.0 try again later", "550 5.7.1 relaying denied"])
    dovecot.append(mailbox, mail("Retry me"), mail("Fail me", sender="bob@example.org"))
    poll_instance(hub, "mail")
    drain(hub)
    report = dispatch_due(hub)  # the first answer fails temporarily, the second permanently
    assert (report.sent, report.retried, report.dead) == (0, 1, 1)
    fake_clock.advance(seconds=10)
    assert dispatch_due(hub).sent == 1
    rows = {r.payload["to"][0]: r for r in outbox_rows(hub)}
    assert rows["ann@example.org"].state == "done" and rows["ann@example.org"].attempts == 2
    assert rows["bob@example.org"].state == "dead" and "550 5.7.1 relaying denied" in rows["bob@example.org"].last_error
    failed_ticket = next(t for t in tickets(hub) if t["title"] == "Fail me")
    assert any(
        h["action"] == "action_failed" and "relaying denied" in h["new"] for h in history(hub, failed_ticket["id"])
    )


def test_no_reply_senders_get_no_acknowledgement(mail_hub, dovecot, mailbox, smtp):
    hub = mail_hub()
    dovecot.append(mailbox, mail("Form submission", sender="no-reply@forms.example.org"))
    cycle(hub)
    assert len(tickets(hub)) == 1 and smtp.received == []


def test_templates_can_be_replaced_per_instance(mail_hub, dovecot, mailbox, smtp, tmp_path):
    templates = tmp_path / "mail-templates"
    templates.mkdir()
    (templates / "acknowledgement.subject").write_text("Ihre Anfrage {{ ticket.number }}")
    (templates / "acknowledgement.txt").write_text("Guten Tag, wir bearbeiten: {{ ticket.title }}")
    (templates / "acknowledgement.html").write_text("<p>Guten Tag, <b>{{ ticket.title }}</b></p>")
    hub = mail_hub(replies={"templates": str(templates)})
    dovecot.append(mailbox, mail("Müll <nicht> abgeholt"))
    cycle(hub)
    msg = smtp.received[0].message
    assert msg["Subject"] == f"Ihre Anfrage {tickets(hub)[0]['number']}"
    assert msg.get_body(("plain",)).get_content().strip() == "Guten Tag, wir bearbeiten: Müll <nicht> abgeholt"
    assert "<b>Müll &lt;nicht&gt; abgeholt</b>" in msg.get_body(("html",)).get_content()  # escaped in HTML
