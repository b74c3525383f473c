"""Quote and signature trimming, and auto-reply detection, on the shapes real clients produce."""

from __future__ import annotations

import pytest

from connectors.email import noise
from connectors.email.parse import parse
from connectors.email.trim import trim_reply
from tests.connectors.email.mails import mail

OWN = {"helpdesk@city.example.gov"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fixed, thanks!\n\nOn Mon, 3 Nov 2026 at 10:00, Help Desk <h@c.gov> wrote:\n> Is it fixed?", "Fixed, thanks!"),
        ("Fixed.\n\nOn Mon, 3 Nov 2026 at 10:00, Help Desk\n<h@c.gov> wrote:\n> old", "Fixed."),  # wrapped
        ("Danke.\n\nAm 03.11.2026 um 10:00 schrieb Help Desk <h@c.gov>:\n> alt", "Danke."),
        ("Merci.\n\nLe lun. 3 nov. 2026 à 10:00, Help Desk a écrit :\n> ancien", "Merci."),
        ("Gracias.\n\nEl lun, 3 nov 2026 a las 10:00, Help Desk escribió:\n> viejo", "Gracias."),
        ("Yes.\n\n-----Original Message-----\nFrom: Help Desk\nSent: Monday\nSubject: x\n\nold", "Yes."),
        ("Ja.\n\nVon: Help Desk <h@c.gov>\nGesendet: Montag\nAn: Ann\nBetreff: x\n\nalt", "Ja."),
        ("Ok.\n\n________________________________\nFrom: Help Desk\nSent: Monday", "Ok."),
        ("See you Tuesday.\n\n-- \nAnn Citizen\n555-0100", "See you Tuesday."),
        ("On my way.\n\nSent from my iPhone", "On my way."),
        (
            "> Which street?\nElm Street.\n> Since when?\nMonday.",
            "> Which street?\nElm Street.\n> Since when?\nMonday.",
        ),
        ("> everything is quoted\n> nothing new", "> everything is quoted\n> nothing new"),
        (
            "On Monday the light went out again. It wrote: nothing.",
            "On Monday the light went out again. It wrote: nothing.",
        ),
    ],
)
def test_trim_reply(text, expected):
    assert trim_reply(text) == expected


@pytest.mark.parametrize(
    ("headers", "subject", "reason"),
    [
        ({"Auto-Submitted": "auto-generated"}, "Report", "Auto-Submitted: auto-generated"),
        ({"Auto-Submitted": "auto-replied; owner-email=x@y"}, "Re: x", "Auto-Submitted: auto-replied"),
        ({"X-Autorespond": "yes"}, "Thanks", "X-Autorespond"),
        ({"Precedence": "junk"}, "Win", "Precedence: junk"),
        ({"Precedence": "list"}, "[parks-l] digest", "Precedence: list"),
        ({"Return-Path": "<>"}, "Notice", "null return path"),
        ({}, "Automatic reply: Pothole", "out-of-office"),
        ({}, "Out of Office: back Monday", "out-of-office"),
        ({}, "Réponse automatique : absent", "out-of-office"),
        ({}, "Abwesenheitsnotiz: Urlaub", "out-of-office"),
    ],
)
def test_automatic_mail_is_recognised(headers, subject, reason):
    found = noise.auto_reason(parse(mail(subject, "x", headers=headers).as_bytes()), OWN)
    assert found is not None and reason in found


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"Auto-Submitted": "no"}, "Broken light"),
        ({"Precedence": "first-class"}, "Broken light"),
        ({}, "Re: out of office hours noise"),  # a person writing about "out of office hours"
        ({}, "My office is out of paper"),
    ],
)
def test_mail_people_write_is_not_taken_for_automatic(headers, subject):
    assert noise.auto_reason(parse(mail(subject, "x", headers=headers).as_bytes()), OWN) is None
