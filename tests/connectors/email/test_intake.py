"""IMAP intake against a real Dovecot: cursor, resync, threading, noise, routing, TLS."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.pipeline import events as inbox_events
from hub.pipeline.poll import poll_instance
from hub.pipeline.worker import drain
from hub.store.db import read, write
from hub.tickets import queries, service
from tests.connectors.email.conftest import config_text, settings_for
from tests.connectors.email.mails import mail, reply_to
from tests.connectors.email.servers import Dovecot


def tickets(hub) -> list[dict]:
    with read(hub.engine) as conn:
        return list(reversed(queries.search(conn, limit=1000)))


def comments(hub, ticket_id: int) -> list[dict]:
    with read(hub.engine) as conn:
        return queries.comment_list(conn, ticket_id)


def intake(hub) -> None:
    report = poll_instance(hub, "mail")
    assert report.error is None, report.error
    drain(hub)


def test_new_mail_becomes_a_ticket_with_requester_cc_and_text(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False)
    dovecot.append(mailbox, mail(cc=["bob@example.org", "helpdesk@city.example.gov"]))
    intake(hub)
    (ticket,) = tickets(hub)
    assert ticket["title"] == "Pothole on Main St"
    assert ticket["channel"] == "email"
    assert ticket["type"] == "service_request"  # default: no citizen_fields configured
    assert ticket["requester"] == {"email": "ann@example.org", "name": "Ann Citizen", "kind": "citizen"}
    assert ticket["description"] == "There is a deep pothole in front of 100 Main St."
    with read(hub.engine) as conn:
        doc = queries.get(conn, ticket["id"])
    # Cc'd people follow the ticket; our own address never does
    assert sorted(s["address"] for s in doc["subscribers"]) == ["ann@example.org", "bob@example.org"]


def test_two_mails_in_the_same_second_are_both_taken(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False)
    dovecot.append(mailbox, mail("first"))
    intake(hub)
    same = datetime(2026, 11, 27, 15, 0, 1, tzinfo=UTC)
    dovecot.append(mailbox, mail("second", date=same), mail("third", date=same))
    intake(hub)
    assert [t["title"] for t in tickets(hub)] == ["first", "second", "third"]
    assert poll_instance(hub, "mail").received == 0


def test_changed_uidvalidity_resyncs_without_duplicates(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False)
    dovecot.append(mailbox, mail("one"), mail("two"), folder="Requests")
    hub = mail_hub(send=False, imap={"folders": [{"name": "Requests"}]})
    intake(hub)
    before = dovecot.uidvalidity(mailbox, "Requests")
    dovecot.recreate_folder(mailbox, "Requests")
    assert dovecot.uidvalidity(mailbox, "Requests") != before
    dovecot.append(mailbox, mail("three"), folder="Requests")
    report = poll_instance(hub, "mail")
    assert (report.received, report.duplicates) == (1, 2)
    drain(hub)
    assert [t["title"] for t in tickets(hub)] == ["one", "two", "three"]


def test_reply_becomes_trimmed_comment_and_reopens_resolved_ticket(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False)
    first = mail("Broken bench in Elm Park", "The bench near the pond is broken.")
    dovecot.append(mailbox, first)
    intake(hub)
    (ticket,) = tickets(hub)
    with write(hub.engine) as conn:
        service.change_status(conn, ticket["id"], "resolved", actor=service.Actor("agent"), now=datetime.now(UTC))
    reply = reply_to(
        first, "It is still broken, a second one too.\n\n-- \nAnn Citizen\n555-0100", sender="ann@example.org"
    )
    reply.replace_header("To", "helpdesk@city.example.gov")
    dovecot.append(mailbox, reply)
    intake(hub)
    (ticket,) = tickets(hub)
    assert ticket["status"] == "new"  # re-opened
    assert [c["body"] for c in comments(hub, ticket["id"])] == ["It is still broken, a second one too."]


def test_ticket_number_threads_only_for_parties(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False)
    dovecot.append(mailbox, mail("Water bill question", sender="owner@example.org"))
    intake(hub)
    number = tickets(hub)[0]["number"]
    dovecot.append(
        mailbox,
        mail(f"Re: [{number}] Water bill question", "Please refund me instead.", sender="stranger@evil.example"),
        mail(f"Re: [{number}] Water bill question", "Here is my account number.", sender="OWNER@example.org"),
    )
    intake(hub)
    first, second = tickets(hub)
    assert [c["body"] for c in comments(hub, first["id"])] == ["Here is my account number."]
    assert second["requester"]["email"] == "stranger@evil.example"
    assert second["title"] == "Re: Water bill question"  # a new ticket, the foreign number dropped


def test_auto_replies_and_bulk_mail_are_ignored_with_the_reason(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False)
    dovecot.append(
        mailbox,
        mail("Vacation", headers={"Auto-Submitted": "auto-replied"}),
        mail("Thanks", headers={"X-Autoreply": "yes"}),
        mail("Newsletter", headers={"Precedence": "bulk"}),
        mail("Out of Office: back Monday"),
        mail("Automatische Antwort: Abwesend"),
        mail("Own mail", sender="helpdesk@city.example.gov"),
        mail("A person writes", headers={"Auto-Submitted": "no"}),
    )
    intake(hub)
    assert [t["title"] for t in tickets(hub)] == ["A person writes"]
    with read(hub.engine) as conn:
        reasons = sorted(e["last_error"] for e in inbox_events.listing(conn, state="ignored"))
    assert len(reasons) == 6
    assert any("Auto-Submitted: auto-replied" in r for r in reasons)
    assert any("X-Autoreply" in r for r in reasons)
    assert any("Precedence: bulk" in r for r in reasons)
    assert sum("out-of-office" in r for r in reasons) == 2
    assert any("own address" in r for r in reasons)


def test_employee_domains_folders_and_routes_set_ticket_fields(mail_hub, dovecot, mailbox):
    hub = mail_hub(
        send=False,
        imap={"folders": [{"name": "INBOX"}, {"name": "Parks", "fields": {"queue": "parks"}}]},
        employee_fields={"type": "incident", "queue": "it"},
        citizen_fields={"type": "citizen_request"},
        routes=[{"to": "water@city.example.gov", "fields": {"queue": "water", "category": "billing"}}],
    )
    dovecot.append(mailbox, mail("Laptop broken", sender="clerk@city.example.gov"))
    dovecot.append(mailbox, mail("Meter reading", to="Water <water@city.example.gov>"))
    dovecot.append(mailbox, mail("Tree fell"), folder="Parks")
    intake(hub)
    got = {t["title"]: (t["type"], t["queue"], t["category"], t["requester"]["kind"]) for t in tickets(hub)}
    assert got == {
        "Laptop broken": ("incident", "it", None, "employee"),
        "Meter reading": ("citizen_request", "water", "billing", "citizen"),
        "Tree fell": ("citizen_request", "parks", None, "citizen"),
    }


def test_citizen_mail_is_ignored_where_only_employees_are_served(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False, accept_citizens=False)
    dovecot.append(
        mailbox, mail("Password reset", sender="clerk@city.example.gov"), mail("Hello", sender="x@example.org")
    )
    intake(hub)
    assert [t["title"] for t in tickets(hub)] == ["Password reset"]
    with read(hub.engine) as conn:
        (ignored,) = inbox_events.listing(conn, state="ignored")
    assert "not in an employee domain" in ignored["last_error"]


def test_processed_mail_is_moved_only_after_it_is_stored(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False, imap={"processed": {"action": "move", "folder": "Processed"}})
    dovecot.append(mailbox, mail("a"), mail("b"))
    report = poll_instance(hub, "mail")
    assert report.received == 2
    assert dovecot.uids(mailbox, "INBOX") == []
    assert len(dovecot.uids(mailbox, "Processed")) == 2
    dovecot.append(mailbox, mail("c"))
    assert poll_instance(hub, "mail").received == 1
    assert len(dovecot.uids(mailbox, "Processed")) == 3


def test_processed_mail_can_be_flagged_seen_instead(mail_hub, dovecot, mailbox):
    hub = mail_hub(send=False, imap={"processed": {"action": "flag"}})
    dovecot.append(mailbox, mail("a"), mail("b"))
    assert dovecot.uids(mailbox, criteria="UNSEEN") != []
    poll_instance(hub, "mail")
    assert dovecot.uids(mailbox, criteria="UNSEEN") == []
    assert len(dovecot.uids(mailbox)) == 2


def test_tls_and_starttls_with_a_private_ca(mail_hub, dovecot, mailbox):
    dovecot.append(mailbox, mail("over tls"))
    implicit = mail_hub(send=False, imap={"security": "tls", "port": dovecot.tls_port, "ca_file": str(dovecot.cert)})
    assert poll_instance(implicit, "mail").received == 1
    dovecot.append(mailbox, mail("over starttls"))
    starttls = mail_hub(send=False, imap={"security": "starttls", "ca_file": str(dovecot.cert)})
    assert poll_instance(starttls, "mail").received == 1


def test_untrusted_certificate_and_wrong_password_stop_with_a_clear_error(make_hub, dovecot, mailbox):
    untrusted = make_hub(
        config_text(settings_for(dovecot, mailbox, None, imap={"security": "tls", "port": dovecot.tls_port}))
    )
    report = poll_instance(untrusted, "mail")
    assert report.error and report.error.startswith("configuration:") and "certificate" in report.error
    own = Dovecot()  # a failed login slows later logins from 127.0.0.1 down on that server
    try:
        wrong = make_hub(config_text(settings_for(own, own.new_user(), None, imap={"password": "nope"})))
        report = poll_instance(wrong, "mail")
    finally:
        own.stop()
    assert report.error and report.error.startswith("configuration:") and "login refused" in report.error
    assert "nope" not in report.error


def test_connection_check_reports_folders_and_templates(mail_hub, dovecot, mailbox):
    dovecot.append(mailbox, mail("one"))
    results = {r.name: r for r in mail_hub(send=False).connector("mail").check()}
    assert results["imap INBOX"].ok and results["imap INBOX"].detail.startswith("1 message(s)")
    assert results["templates"].ok
    broken = {r.name: r for r in mail_hub(send=False, imap={"folders": [{"name": "Nope"}]}).connector("mail").check()}
    assert not broken["imap"].ok and "Nope" in broken["imap"].detail
