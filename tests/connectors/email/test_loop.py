"""A mail loop between the hub and an auto-responder must stop by itself.

The responder is real: every mail the hub sends reaches the SMTP server, and the responder
answers it by delivering a reply into the hub's IMAP mailbox, as the requester's mail system
would. The hub runs its normal cycle (poll, process, deliver) until a round sends nothing."""

from __future__ import annotations

import pytest

from hub.pipeline import events as inbox_events
from hub.store.db import read
from tests.connectors.email.mails import mail
from tests.connectors.email.servers import Received
from tests.connectors.email.test_intake import tickets
from tests.connectors.email.test_replies import cycle

MAX_ROUNDS = 25


def responder(kind: str, dovecot, mailbox: str):
    def answer(item: Received) -> None:
        incoming = item.message
        if kind == "rfc3834":  # a well-behaved vacation responder
            reply = mail(
                f"Out: {incoming['Subject']}",
                "I am away.",
                sender="robot@example.org",
                in_reply_to=incoming["Message-ID"],
                headers={"Auto-Submitted": "auto-replied"},
            )
        elif kind == "threaded":  # no auto headers, but it answers in the thread
            reply = mail(
                f"Re: {incoming['Subject']}",
                "Thanks for your message.",
                sender="robot@example.org",
                in_reply_to=incoming["Message-ID"],
                references=[incoming["Message-ID"]],
            )
        else:  # "naive": ignores RFC 3834, starts a new conversation every time
            reply = mail("Thank you for contacting us", "We will get back to you.", sender="robot@example.org")
        dovecot.append(mailbox, reply)

    return answer


def run_until_quiet(hub, smtp) -> int:
    for round_no in range(1, MAX_ROUNDS + 1):
        sent_before = len(smtp.received)
        cycle(hub)
        if len(smtp.received) == sent_before:
            return round_no
    pytest.fail(f"the mail loop was still going after {MAX_ROUNDS} rounds ({len(smtp.received)} mails sent)")


@pytest.mark.parametrize(
    ("kind", "tickets_made", "mails_sent"),
    [
        ("rfc3834", 1, 1),  # its Auto-Submitted reply is ignored
        ("threaded", 1, 1),  # its reply becomes a comment, and comments from mail are not echoed
        ("naive", 3, 3),  # every reply opens a ticket until the per-sender limit (3/h) stops it
    ],
)
def test_mail_loop_with_an_auto_responder_stops_by_itself(
    mail_hub, dovecot, mailbox, smtp, kind, tickets_made, mails_sent
):
    hub = mail_hub(rate_limit={"tickets": 3, "per": "1h"})
    smtp.handler.on_message = responder(kind, dovecot, mailbox)
    dovecot.append(mailbox, mail("My water is brown", sender="robot@example.org"))
    rounds = run_until_quiet(hub, smtp)
    assert rounds <= 5
    assert len(tickets(hub)) == tickets_made
    assert len(smtp.received) == mails_sent
    with read(hub.engine) as conn:
        ignored = [e["last_error"] for e in inbox_events.listing(conn, state="ignored")]
    if kind == "naive":
        assert len(ignored) == 1 and ignored[0].startswith("rate limit: robot@example.org opened 3 tickets")
    if kind == "rfc3834":
        assert ignored == ["automatic mail (Auto-Submitted: auto-replied)"]
