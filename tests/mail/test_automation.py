"""The automatic-mail classifier: RFC 3834 and vendor headers, list and bulk mail, reports, out-of-office patterns,
our own mail coming back, every reason kept, and the headers we write on what we send."""

from __future__ import annotations

import email
import email.policy

import pytest

from postroom.mail.automation import (
    AUTO_GENERATED,
    AUTO_REPLIED,
    LOOP_HEADER,
    AutomationKind,
    AutomationVerdict,
    OwnMail,
    RateWindow,
    build_automatic_headers,
    detect_automation,
    detect_rate_breach,
    parse_rate_window,
)
from postroom.mail.parse import parse_message
from postroom.mail.values import ParsedMessage

K = AutomationKind
LOOP_ID = "postroom-0123456789abcdef"
OURS = OwnMail(
    loop_ids=frozenset({LOOP_ID}),
    addresses=frozenset({"support@desk.example"}),
    message_id_domains=frozenset({"desk-host.example"}),
    is_own_message_id=lambda message_id: message_id.startswith("pr-"),
)


def build_parsed(
    *headers: str,
    subject: str = "Printer on fire",
    sender: str = "Bob <bob@example.com>",
    message_id: str = "m1@example.com",
) -> ParsedMessage:
    head = "\r\n".join((f"From: {sender}", "To: support@desk.example", f"Subject: {subject}", *headers))
    return parse_message(f"{head}\r\nMessage-ID: <{message_id}>\r\n\r\nHello\r\n".encode())


def detect(
    *headers: str, subject: str = "Printer on fire", sender: str = "Bob <bob@example.com>", own: OwnMail = OURS
) -> AutomationVerdict:
    return detect_automation(build_parsed(*headers, subject=subject, sender=sender), own=own)


def test_person_mail_is_normal() -> None:
    """
    GIVEN an ordinary mail from a person
    WHEN it is classified
    THEN it is normal, with no reasons, and may get an automatic answer
    """
    verdict = detect()
    assert (verdict.kind, verdict.reasons, verdict.auto_answer_allowed) == (K.NORMAL, (), True)
    assert verdict.is_automatic is False
    assert verdict.as_record() == {"kind": "normal", "reasons": []}


@pytest.mark.parametrize(
    ("header", "subject", "kind"),
    [
        ("Auto-Submitted: auto-replied", "Re: Printer on fire", K.AUTO_REPLY),
        ("Auto-Submitted: auto-replied", "Out of Office: Re: Printer on fire", K.OUT_OF_OFFICE),
        ("Auto-Submitted: auto-replied (zimbra; vacation)", "Re: Printer on fire", K.OUT_OF_OFFICE),
        ("Auto-Submitted: auto-replied; owner-email=bob@example.com", "Re: Printer", K.OUT_OF_OFFICE),
        ("Auto-Submitted: auto-replied", "On vacation until Monday", K.OUT_OF_OFFICE),  # Gmail (Zammad's rule)
        ("Auto-Submitted: auto-generated", "Your invoice", K.AUTO_REPLY),
        ("Auto-Submitted: auto-notified", "Sieve notification", K.AUTO_REPLY),
        ("Auto-Submitted: x-custom-robot", "Report", K.AUTO_REPLY),
        ("X-Autoreply: yes", "Re: Printer on fire", K.AUTO_REPLY),
        ("X-Autorespond: Re: Printer on fire", "Abwesenheitsnotiz: Re: Printer on fire", K.OUT_OF_OFFICE),
        ("Precedence: bulk", "Newsletter", K.BULK),
        ("Precedence: junk", "Offer", K.BULK),
        ("X-Precedence: bulk", "Newsletter", K.BULK),
        ("Precedence: auto_reply", "Re: Printer", K.AUTO_REPLY),
        ("X-Loop: helpdesk@other.example", "Re: Printer", K.AUTO_REPLY),
        ("X-Auto-Response-Suppress: All", "Meeting", K.AUTO_REPLY),
        ("X-Auto-Response-Suppress: All\r\nX-MS-Exchange-Inbox-Rules-Loop: bob@example.com", "Re: x", K.OUT_OF_OFFICE),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", "Re: x", K.AUTO_REPLY),
        ("Return-Path: <>", "Re: Printer", K.BOUNCE),
        ("X-FC-Machinegenerated: true", "Alert", K.AUTO_REPLY),
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=x", "Undelivered", K.BOUNCE),
        ("Content-Type: multipart/report; report-type=feedback-report; boundary=x", "Abuse report", K.FEEDBACK_REPORT),
        ("Feedback-Type: abuse", "Complaint", K.FEEDBACK_REPORT),
        ("Content-Type: multipart/report; report-type=disposition-notification; boundary=x", "Read", K.AUTO_REPLY),
    ],
)
def test_header_evidence(header: str, subject: str, kind: AutomationKind) -> None:
    """
    GIVEN a message carrying one automatic-mail header
    WHEN it is classified
    THEN it has the expected kind, a reason naming the header, and no automatic answer is allowed
    """
    verdict = detect(header, subject=subject)
    assert verdict.kind == kind
    name = header.split(":", 1)[0].lower()
    assert any(name in reason.lower() for reason in verdict.reasons) or kind in {K.BOUNCE, K.AUTO_REPLY}
    assert verdict.auto_answer_allowed is False
    assert verdict.is_automatic is True


def test_every_signal_is_a_reason_and_the_strongest_decides() -> None:
    """
    GIVEN a Zammad-style looping notification: X-Loop, Precedence bulk, Auto-Submitted, Suppress All, our Message-ID
    WHEN it is classified
    THEN the kind is loop and every one of the five signals is listed, in check order
    """
    parsed = build_parsed(
        "X-Loop: yes",
        "Precedence: bulk",
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
        message_id="1234@desk-host.example",
    )
    verdict = detect_automation(parsed, own=OURS)
    assert verdict.kind == K.LOOP
    assert verdict.signals == ("x_loop", "own_message_id_domain", "auto_submitted", "suppress_all", "precedence_bulk")
    assert len(verdict.reasons) == 5


def test_auto_submitted_no_and_negative_flags_mean_a_person() -> None:
    """
    GIVEN "Auto-Submitted: no" (RFC 3834 section 5) and "X-Autoreply: no"
    WHEN classified
    THEN neither is automatic (FreeScout's any-value check would get the first wrong)
    """
    assert detect("Auto-Submitted: no").kind == K.NORMAL
    assert detect("X-Autoreply: no").kind == K.NORMAL


def test_daemon_sender_is_a_bounce_even_with_auto_replied() -> None:
    """
    GIVEN a Postfix bounce from MAILER-DAEMON that also says Auto-Submitted: auto-replied
    WHEN classified
    THEN the kind is bounce, and both signals are reasons
    """
    verdict = detect("Auto-Submitted: auto-replied", subject="Undelivered Mail", sender="MAILER-DAEMON@mx.example.com")
    assert verdict.kind == K.BOUNCE
    assert verdict.signals == ("daemon_sender", "auto_submitted")
    assert detect(sender="MAILER-DAEMON <>").kind == K.BOUNCE
    assert detect(sender="postmaster@mx.example.com").kind == K.BOUNCE


def test_null_return_path_is_a_weak_bounce_sign() -> None:
    """
    GIVEN a vacation reply sent with a null reverse-path, as RFC 3834 section 3.3 asks
    WHEN classified
    THEN it is an out-of-office reply (the null Return-Path only decides when nothing else does)
    """
    verdict = detect("Return-Path: <>", "Auto-Submitted: auto-replied", subject="Out of office: Printer")
    assert verdict.kind == K.OUT_OF_OFFICE
    assert "null_return_path" in verdict.signals


def test_list_mail_is_not_automatic_but_gets_no_automatic_answer() -> None:
    """
    GIVEN mail with List-Id, with List-Unsubscribe, and with Precedence: list
    WHEN classified
    THEN each is list mail, not automatic, and must not be answered automatically (RFC 3834 section 2)
    """
    for header in (
        "List-Id: <users.lists.example.org>",
        "List-Unsubscribe: <mailto:leave@example.org>",
        "Precedence: list",
    ):
        verdict = detect(header)
        assert (verdict.kind, verdict.is_automatic, verdict.auto_answer_allowed) == (K.LIST, False, False)
    assert detect("List-Id: <news.example.org>", "Precedence: bulk").kind == K.BULK  # a newsletter


def test_partial_suppress_request_is_honoured_but_not_automatic() -> None:
    """
    GIVEN X-Auto-Response-Suppress: OOF, AutoReply (Outlook asks not to be auto-answered) without "All"
    WHEN classified
    THEN the mail is normal, but an automatic answer is not allowed, and the reason says why
    """
    verdict = detect("X-Auto-Response-Suppress: DR, OOF, AutoReply")
    assert (verdict.kind, verdict.auto_answer_allowed) == (K.NORMAL, False)
    assert verdict.signals == ("suppress_request",)


def test_no_reply_sender_is_weak_evidence() -> None:
    """
    GIVEN mail from noreply@ and do-not-reply@, and a newsletter from noreply@ with Precedence: bulk
    WHEN classified
    THEN the first two are automatic replies, the newsletter stays bulk, and a name like Noreen is a person
    """
    assert detect(sender="Shop <noreply@shop.example>").kind == K.AUTO_REPLY
    assert detect(sender="do-not-reply@bank.example").kind == K.AUTO_REPLY
    assert detect("Precedence: bulk", sender="noreply@news.example").kind == K.BULK
    assert detect(sender="Noreen <noreen@example.com>").kind == K.NORMAL


@pytest.mark.parametrize(
    ("headers", "sender", "message_id", "signal"),
    [
        ((f"{LOOP_HEADER}: {LOOP_ID}",), "bob@example.com", "m1@example.com", "own_loop_header"),
        (("X-Loop: support@desk.example",), "bob@example.com", "m1@example.com", "x_loop_ours"),
        ((), "Desk <support@desk.example>", "m1@example.com", "own_from"),
        (("Precedence: bulk",), "bob@example.com", "1@desk-host.example", "own_message_id_domain"),
        ((), "bob@example.com", "pr-k1-abc.def@desk.example", "own_message_id"),
    ],
)
def test_our_own_mail_coming_back_is_a_loop(
    headers: tuple[str, ...], sender: str, message_id: str, signal: str
) -> None:
    """
    GIVEN mail that carries our loop header, an X-Loop naming us, our From address, our signed Message-ID, or
    our Message-ID domain together with a bulk header
    WHEN classified with what marks our own mail
    THEN it is a loop, for the expected signal
    """
    verdict = detect_automation(build_parsed(*headers, sender=sender, message_id=message_id), own=OURS)
    assert verdict.kind == K.LOOP
    assert signal in verdict.signals


def test_our_message_id_domain_alone_only_forbids_an_automatic_answer() -> None:
    """
    GIVEN a message with a Message-ID on our own Message-ID domain and nothing else automatic about it
    WHEN classified
    THEN it is not a loop (Zammad opens a ticket for it: process case 01) but gets no automatic answer (Zammad
    auto-response case 05)
    """
    verdict = detect_automation(build_parsed(message_id="1@desk-host.example"), own=OURS)
    assert (verdict.kind, verdict.auto_answer_allowed) == (K.AUTO_REPLY, False)


def test_other_installations_and_subdomains_are_not_ours() -> None:
    """
    GIVEN another Postroom's loop header (an agent's reply from there), and a Message-ID on a longer domain that
    merely ends like our own (Zammad auto-response case 06)
    WHEN classified
    THEN neither is a loop, and the other installation's agent reply is a person's mail
    """
    assert detect(f"{LOOP_HEADER}: postroom-ffffffffffffffff").kind == K.NORMAL
    parsed = build_parsed(message_id="1@not.desk-host.example")
    assert detect_automation(parsed, own=OURS).kind == K.NORMAL
    assert detect(f"{LOOP_HEADER}: {LOOP_ID}", own=OwnMail()).kind == K.NORMAL  # knowing nothing of ourselves


def test_an_answer_to_our_automatic_reply_is_a_loop() -> None:
    """
    GIVEN a message that answers one of our automatic replies (the caller found it by In-Reply-To)
    WHEN classified
    THEN it is a loop even without a single automatic header: a robot answering our robot
    """
    verdict = detect_automation(build_parsed(), own=OURS, answers_automatic="pr-k1-x.y@desk.example")
    assert verdict.kind == K.LOOP
    assert verdict.signals == ("answers_our_auto_reply",)


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
        "AUTO: Jane Doe is out of the office (returning 02.03.2026)",  # Lotus/HCL Notes
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    """
    GIVEN an out-of-office subject in one of many languages and no automatic header at all
    WHEN classified
    THEN it is an out-of-office reply
    """
    assert detect(subject=subject).kind == K.OUT_OF_OFFICE


def test_exchange_thread_topic_marks_a_localised_automatic_reply() -> None:
    """
    GIVEN an Exchange automatic reply whose subject is a localised phrase before the Thread-Topic, and a person's
    Outlook reply ("AW:" before the same Thread-Topic)
    WHEN classified
    THEN the first is out of office by its Thread-Topic shape, the second is a person's mail
    """
    oof = detect("Thread-Topic: Drucker defekt", subject="Automatische Antwort: Drucker defekt")
    assert oof.kind == K.OUT_OF_OFFICE and "exchange_thread_topic" in oof.signals
    assert detect("Thread-Topic: Drucker defekt", subject="AW: Drucker defekt").kind == K.NORMAL


@pytest.mark.parametrize(
    "subject",
    [
        "Out of office hours support needed",
        "Re: Out of Office: printer",  # a person quoting an out-of-office subject in a reply
        "Automatic replies are not working in Outlook",
        "Absence management module question",
        "Question about the vacation policy",
        "Printer absent from network",
        "Auto: Motorschaden am Firmenwagen",  # German "Auto" (car), not Notes' upper-case AUTO:
    ],
)
def test_person_subjects_that_only_look_similar(subject: str) -> None:
    """
    GIVEN subjects a person writes that mention absence or automatic replies
    WHEN classified
    THEN they are normal
    """
    assert detect(subject=subject).kind == K.NORMAL


@pytest.mark.parametrize(
    ("auto_submitted", "expected"),
    [
        ("", [(LOOP_HEADER, LOOP_ID)]),
        (AUTO_REPLIED, [("Auto-Submitted", AUTO_REPLIED), ("X-Auto-Response-Suppress", "All"), (LOOP_HEADER, LOOP_ID)]),
        (
            AUTO_GENERATED,
            [("Auto-Submitted", AUTO_GENERATED), ("X-Auto-Response-Suppress", "All"), (LOOP_HEADER, LOOP_ID)],
        ),
    ],
)
def test_headers_we_send(auto_submitted: str, expected: list[tuple[str, str]]) -> None:
    """
    GIVEN a person's mail (an agent's reply), an automatic reply, and an automatic message answering none
    WHEN our outbound headers are built
    THEN the loop header is always there, the RFC 3834 marks only on automatic mail
    """
    assert list(build_automatic_headers(auto_submitted, LOOP_ID)) == expected
    with pytest.raises(ValueError, match="Auto-Submitted"):
        build_automatic_headers("auto-notified", LOOP_ID)


def test_what_we_send_is_recognised_as_ours_when_it_comes_back() -> None:
    """
    GIVEN an automatic message built by postroom.mail.compose with our loop id
    WHEN it comes back in unchanged (a redirect rule sending it back to us)
    THEN the classifier calls it a loop by our loop header, and it is automatic by its own RFC 3834 marks
    """
    import datetime as dt

    from postroom.mail.compose import OutgoingMail, build_message
    from postroom.mail.values import Address

    raw = build_message(
        OutgoingMail(
            from_=Address("Desk", "support@desk.example"),
            to=(Address("", "bob@example.com"),),
            subject="Closed: Printer [PR-000001]",
            text="This is an automatic message.",
            message_id="notice.1@desk.example",
            date=dt.datetime(2026, 11, 3, tzinfo=dt.UTC),
            automatic=True,
            loop_id=LOOP_ID,
        )
    )
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert (sent["Auto-Submitted"], sent[LOOP_HEADER]) == (AUTO_REPLIED, LOOP_ID)
    verdict = detect_automation(parse_message(raw), own=OwnMail(loop_ids=frozenset({LOOP_ID})))
    assert verdict.kind == K.LOOP
    assert {"own_loop_header", "auto_submitted", "suppress_all"} <= set(verdict.signals)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20/120m", RateWindow(20, 120)),
        ("20/120", RateWindow(20, 120)),
        (" 5 / 2h ", RateWindow(5, 120)),
        ("off", None),
        ("0", None),
    ],
)
def test_rate_window_parsing(raw: str, expected: RateWindow | None) -> None:
    """
    GIVEN rate windows as an operator writes them
    WHEN parsed
    THEN each gives the limit and minutes (or no limit)
    """
    assert parse_rate_window(raw) == expected


@pytest.mark.parametrize("raw", ["twenty", "20/", "0/10m", "5/0m", "-1/10m"])
def test_bad_rate_windows_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"rate window|at least 1"):
        parse_rate_window(raw)


def test_rate_breach_opens_after_the_limit() -> None:
    """
    GIVEN a window of 3 messages
    WHEN the sender's 3rd and 4th message arrive
    THEN the 3rd is within the limit and the 4th over it, the reason saying so
    """
    window = RateWindow(limit=3, minutes=60)
    assert detect_rate_breach(2, window).over is False
    over = detect_rate_breach(3, window)
    assert over.over is True and over.count == 4
    assert "over the limit of 3" in over.reason
    assert detect_rate_breach(1000, None).over is False


def test_inspect_shows_the_automation_verdict() -> None:
    """
    GIVEN an out-of-office reply and a person's mail
    WHEN `postroom inspect` builds their records
    THEN the `automation` key holds the kind and every reason
    """
    from postroom.mail.inspection import build_inspect_record

    vacation = build_parsed("Auto-Submitted: auto-replied", subject="Out of office: Printer")
    record = build_inspect_record(vacation, "vacation.eml")
    assert record["automation"] == {
        "kind": "out_of_office",
        "reasons": ["Auto-Submitted: auto-replied (RFC 3834)", "out-of-office subject: Out of office: Printer"],
    }
    assert build_inspect_record(build_parsed(), "person.eml")["automation"] == {"kind": "normal", "reasons": []}
