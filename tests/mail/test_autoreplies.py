"""Automatic-mail detection: RFC 3834 headers, vendor flags, bulk/list/loop headers and out-of-office subjects."""

from __future__ import annotations

import pytest

from postroom.mail.autoreplies import AutoReplyVerdict, detect_automatic_reply
from postroom.mail.parse import parse_message
from postroom.mail.values import ParsedMessage


def build_parsed(
    *headers: str, subject: str = "Printer on fire", sender: str = "Bob <bob@example.com>"
) -> ParsedMessage:
    head = "\r\n".join((f"From: {sender}", "To: support@postroom.example", f"Subject: {subject}", *headers))
    return parse_message(f"{head}\r\nMessage-ID: <m1@example.com>\r\n\r\nHello\r\n".encode())


def detect(*headers: str, subject: str = "Printer on fire", sender: str = "Bob <bob@example.com>") -> AutoReplyVerdict:
    return detect_automatic_reply(build_parsed(*headers, subject=subject, sender=sender))


def test_person_mail_is_not_automatic() -> None:
    """
    GIVEN an ordinary mail from a person
    WHEN it is classified
    THEN it is not automatic and may get an auto-reply
    """
    verdict = detect()
    assert verdict.is_automatic is False
    assert verdict.kind is None
    assert verdict.allows_auto_reply is True


@pytest.mark.parametrize(
    ("header", "subject", "kind"),
    [
        ("Auto-Submitted: auto-replied", "Re: Printer on fire", "auto_replied"),
        ("Auto-Submitted: auto-replied", "Out of Office: Re: Printer on fire", "vacation"),
        ("Auto-Submitted: auto-replied (zimbra; vacation)", "Re: Printer on fire", "vacation"),
        ("Auto-Submitted: auto-generated", "Your invoice", "auto_generated"),
        ("Auto-Submitted: auto-notified", "Sieve notification", "auto_generated"),
        ("Auto-Submitted: x-custom-robot", "Report", "auto_generated"),
        ("X-Autoreply: yes", "Re: Printer on fire", "auto_replied"),
        ("X-Autorespond: Re: Printer on fire", "Abwesenheitsnotiz: Re: Printer on fire", "vacation"),
        ("Precedence: bulk", "Newsletter", "bulk"),
        ("Precedence: junk", "Offer", "bulk"),
        ("X-Precedence: bulk", "Newsletter", "bulk"),
        ("Precedence: auto_reply", "Re: Printer", "auto_replied"),
        ("X-Loop: helpdesk@example.com", "Re: Printer", "loop"),
        ("X-Auto-Response-Suppress: All", "Meeting", "auto_generated"),
        ("X-Auto-Response-Suppress: All\r\nX-MS-Exchange-Inbox-Rules-Loop: bob@example.com", "Re: x", "vacation"),
        ("Return-Path: <>", "Re: Printer", "bounce"),
        ("X-FC-Machinegenerated: true", "Alert", "auto_generated"),
    ],
)
def test_header_evidence(header: str, subject: str, kind: str) -> None:
    """
    GIVEN a message carrying one automatic-mail header
    WHEN it is classified
    THEN it is automatic with the expected kind, the reason names the header, and no auto-reply is allowed
    """
    verdict = detect(header, subject=subject)
    assert verdict.is_automatic is True
    assert verdict.kind == kind
    assert header.split(":", 1)[0].lower() in verdict.reason.lower() or kind == "bounce"
    assert verdict.allows_auto_reply is False


def test_auto_submitted_no_and_negative_flags_mean_a_person() -> None:
    """
    GIVEN "Auto-Submitted: no" (RFC 3834 §5) and "X-Autoreply: no"
    WHEN classified
    THEN neither is automatic (FreeScout's any-value check would get the first wrong)
    """
    assert detect("Auto-Submitted: no").is_automatic is False
    assert detect("X-Autoreply: no").is_automatic is False


def test_daemon_sender_is_a_bounce_even_with_auto_replied() -> None:
    """
    GIVEN a Postfix bounce from MAILER-DAEMON that also says Auto-Submitted: auto-replied
    WHEN classified
    THEN the kind is bounce, not auto_replied
    """
    verdict = detect("Auto-Submitted: auto-replied", subject="Undelivered Mail", sender="MAILER-DAEMON@mx.example.com")
    assert verdict.kind == "bounce"
    assert detect(sender="MAILER-DAEMON <>").kind == "bounce"


def test_list_mail_is_not_automatic_but_gets_no_auto_reply() -> None:
    """
    GIVEN mail with List-Id, with List-Unsubscribe, and with Precedence: list
    WHEN classified
    THEN each is list mail, not automatic, and must not be auto-answered (RFC 3834 §2)
    """
    for header in (
        "List-Id: <users.lists.example.org>",
        "List-Unsubscribe: <mailto:leave@example.org>",
        "Precedence: list",
    ):
        verdict = detect(header)
        assert (verdict.is_automatic, verdict.kind, verdict.allows_auto_reply) == (False, "list", False)


def test_partial_suppress_request_is_honoured_but_not_automatic() -> None:
    """
    GIVEN X-Auto-Response-Suppress: OOF, AutoReply (Outlook asks not to be auto-answered) without "All"
    WHEN classified
    THEN the mail is not automatic, but an auto-reply is not allowed
    """
    verdict = detect("X-Auto-Response-Suppress: DR, OOF, AutoReply")
    assert verdict.is_automatic is False
    assert verdict.suppress_auto_reply is True
    assert verdict.allows_auto_reply is False


def test_no_reply_sender_is_automatic() -> None:
    """
    GIVEN mail from noreply@ and from do-not-reply@
    WHEN classified
    THEN both are auto-generated
    """
    assert detect(sender="Shop <noreply@shop.example>").kind == "auto_generated"
    assert detect(sender="do-not-reply@bank.example").kind == "auto_generated"
    assert detect(sender="Noreen <noreen@example.com>").kind is None


def test_own_message_id_is_a_loop_and_subdomains_are_not_ours() -> None:
    """
    GIVEN our own Message-ID domain, and a message whose id is on a longer domain that merely ends like ours
    WHEN classified with own_domains
    THEN the first is a loop, the second is not automatic (Zammad auto-response cases 05 and 06)
    """
    ours = parse_message(b"From: a@example.com\r\nMessage-ID: <1@postroom.example>\r\n\r\nx\r\n")
    not_ours = parse_message(b"From: a@example.com\r\nMessage-ID: <1@not.postroom.example>\r\n\r\nx\r\n")
    assert detect_automatic_reply(ours, own_domains=("postroom.example",)).kind == "loop"
    assert detect_automatic_reply(not_ours, own_domains=("postroom.example",)).is_automatic is False


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Re: Printer on fire",
        "Out of office",
        "Automatic reply: Printer on fire",
        "AutoReply: Printer on fire",
        "Auto-Reply: Printer",
        "Abwesenheitsnotiz: Drucker",
        "Automatische Antwort: Drucker",
        "Réponse automatique : Imprimante",
        "Absence du bureau",
        "Respuesta automática: Impresora",
        "Fuori sede: stampante",
        "Risposta automatica: stampante",
        "Afwezig: printer",
        "Automatisch antwoord: printer",
        "Frånvaro: skrivare",
        "Autosvar: skriver",
        "Poza biurem: drukarka",
        "Odpowiedź automatyczna: drukarka",
        "Automatická odpověď: tiskárna",
        "Автоматический ответ: принтер",
        "自动回复: 打印机",
        "自動返信\uff1aプリンター",  # full-width colon
        "[Ticket#123] Out of Office: printer",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    """
    GIVEN an out-of-office subject in one of many languages and no automatic header at all
    WHEN classified
    THEN it is an automatic vacation reply
    """
    verdict = detect(subject=subject)
    assert (verdict.is_automatic, verdict.kind) == (True, "vacation")


@pytest.mark.parametrize(
    "subject",
    [
        "Out of office hours support needed",
        "Re: Out of Office: printer",  # a person quoting an out-of-office subject in a reply
        "Automatic replies are not working in Outlook",
        "Absence management module question",
        "Question about the vacation policy",
        "Printer absent from network",
    ],
)
def test_person_subjects_that_only_look_similar(subject: str) -> None:
    """
    GIVEN subjects a person writes that mention absence or automatic replies
    WHEN classified
    THEN they are not automatic
    """
    assert detect(subject=subject).is_automatic is False
