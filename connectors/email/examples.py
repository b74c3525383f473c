"""Sample mails for the contract suite: a citizen's request and a bounce of a hub notification."""

from __future__ import annotations

from typing import Any

from hub.sdk import RawEvent

REQUEST = b"""From: Ann Citizen <ann@example.org>
To: City Help Desk <helpdesk@city.example.gov>
Subject: Streetlight out on Elm St
Message-ID: <req-1@example.org>
Date: Fri, 27 Nov 2026 09:15:00 -0600
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

The streetlight in front of 12 Elm St has been out since Monday.

Ann
"""

BOUNCE = b"""From: Mail Delivery System <MAILER-DAEMON@mx.city.example.gov>
To: helpdesk@city.example.gov
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mx.city.example.gov>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.city.example.gov

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown
--B
Content-Type: text/rfc822-headers

From: City Help Desk <helpdesk@city.example.gov>
To: gone@example.org
Subject: [REQ-2026-000001] Received: Pothole
Message-ID: <hub.0123456789abcdef0123456789abcdef@city.example.gov>
--B--
"""


def contract_examples() -> list[tuple[dict[str, Any], list[RawEvent]]]:
    config = {"settings": {"address": "helpdesk@city.example.gov"}}
    raws = [RawEvent("req-1", REQUEST, {"x-imap-folder": "INBOX"}, "message/rfc822")]
    raws.append(RawEvent("bounce-1", BOUNCE, {"x-imap-folder": "INBOX"}, "message/rfc822"))
    return [(config, raws)]
