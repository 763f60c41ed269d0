"""Delivery (RFC 3464) and disposition (RFC 8098) reports about our mail, and plain-text bounces."""

from __future__ import annotations

import email
import time
from email import policy
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.mail.reports import Reason, RecipientStatus, Report, ReportKind, parse_report

OUR_ID = "ticket-42.a1b2@postroom.example"
REPORT_ID = "bounce-1@mx.example.com"
MAX_SECONDS_FOR_HOSTILE_TEXT = 2.0  # measured 0.05 s; generous for slow CI machines


def build_original(message_id: str = OUR_ID) -> EmailMessage:
    original = EmailMessage()
    original["From"] = "Support <support@postroom.example>"
    original["To"] = "bob@example.com"
    original["Subject"] = "Re: [#42] printer on fire"
    original["Message-ID"] = f"<{message_id}>"
    original.set_content("We are looking into it.\n")
    return original


def build_report(
    report_type: str,
    fields: str,
    *,
    original: EmailMessage | None = None,
    headers_only: bool = False,
    subject: str = "Undelivered Mail Returned to Sender",
) -> bytes:
    """A multipart/report (RFC 6522): human text, the machine-readable part, and the original or its headers."""
    report = EmailMessage()
    report["From"] = "MAILER-DAEMON@mx.example.com (Mail Delivery System)"
    report["To"] = "support@postroom.example"
    report["Subject"] = subject
    report["Message-ID"] = f"<{REPORT_ID}>"
    report.set_content("This is the mail system at host mx.example.com.\n")
    report.make_mixed()
    report.set_type("multipart/report")
    report.set_param("report-type", report_type)
    # parsed rather than set_content(): the generator wants message/delivery-status as a list of field blocks
    machine = email.message_from_string(f"Content-Type: message/{report_type}\n\n{fields}", policy=policy.default)
    report.attach(machine)
    if original is not None:
        returned = EmailMessage()
        if headers_only:
            head = "".join(f"{name}: {value}\n" for name, value in original.items())
            returned.set_content(head.encode(), maintype="text", subtype="rfc822-headers", cte="7bit")
        else:
            returned.set_content(original)
        del returned["MIME-Version"]
        report.attach(returned)
    return report.as_bytes()


FAILED_FIELDS = """Reporting-MTA: dns; mx.example.com
Arrival-Date: Mon, 3 Mar 2025 10:00:00 +0100

Final-Recipient: rfc822; bob@example.com
Original-Recipient: rfc822;bob@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address rejected:
    User unknown in virtual mailbox table
"""


def test_rfc3464_failure_gives_recipient_status_and_our_message_id() -> None:
    """
    GIVEN an RFC 3464 report with one failed recipient and our original message returned as message/rfc822
    WHEN it is parsed
    THEN it is a failed DSN naming the recipient, the 5.1.1 status, the unfolded diagnostic and our Message-ID
    """
    report = parse_report(build_report("delivery-status", FAILED_FIELDS, original=build_original()))
    assert report is not None
    assert report.kind is ReportKind.DSN
    assert report.outcome == "failed"
    assert report.original_message_ids[0] == OUR_ID
    assert REPORT_ID not in report.original_message_ids
    assert report.reporting_mta == "mx.example.com"
    assert report.recipients == (
        RecipientStatus(
            recipient="bob@example.com",
            action="failed",
            status="5.1.1",
            diagnostic="550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
            reply_code="550",
            reason=Reason.USER_UNKNOWN,
            hard=True,
        ),
    )
    assert report.summary.startswith("failed for bob@example.com: 5.1.1 550 5.1.1")


def test_delayed_report_with_returned_headers_only() -> None:
    """
    GIVEN a "delayed" DSN that returns only the original's headers as text/rfc822-headers (RFC 6522 §4)
    WHEN it is parsed
    THEN the outcome is delayed and our Message-ID is read from those headers
    """
    fields = """Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; carol@example.org
Action: delayed
Status: 4.4.1
Will-Retry-Until: Thu, 6 Mar 2025 10:00:00 +0100
Diagnostic-Code: X-Postfix; connect to mail.example.org[192.0.2.1]:25: Connection timed out
"""
    raw = build_report("delivery-status", fields, original=build_original(), headers_only=True)
    report = parse_report(raw)
    assert report is not None
    assert report.outcome == "delayed"
    assert report.original_message_ids == (OUR_ID,)
    assert report.recipients[0].status == "4.4.1"
    assert report.recipients[0].diagnostic.startswith("connect to mail.example.org")


def test_mixed_recipients_summarise_to_the_worst_outcome() -> None:
    """
    GIVEN one report with a delivered, a delayed and a failed recipient, and another with delivered and delayed
    WHEN they are parsed
    THEN the first summarises as failed (naming the failed one), the second as delayed
    """
    delivered = "Final-Recipient: rfc822; ann@example.com\nAction: delivered\nStatus: 2.0.0\n"
    delayed = "Final-Recipient: rfc822; carol@example.org\nAction: delayed\nStatus: 4.2.2\n"
    failed = "Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.2.1\n"
    head = "Reporting-MTA: dns; mx.example.com\n\n"
    worst = parse_report(build_report("delivery-status", head + "\n".join((delivered, delayed, failed))))
    milder = parse_report(build_report("delivery-status", head + "\n".join((delivered, delayed))))
    assert worst is not None
    assert milder is not None
    assert [recipient.action for recipient in worst.recipients] == ["delivered", "delayed", "failed"]
    assert worst.outcome == "failed"
    assert worst.summary.startswith("failed for bob@example.com (+2 more): 5.2.1")
    assert milder.outcome == "delayed"


def test_success_notification_is_delivered() -> None:
    """
    GIVEN a DSN requested with NOTIFY=SUCCESS (RFC 3461) reporting "relayed" and "delivered"
    WHEN it is parsed
    THEN the outcome is delivered
    """
    fields = (
        "Reporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; bob@example.com\nAction: relayed\nStatus: 2.0.0\n\n"
        "Final-Recipient: rfc822; ann@example.com\nAction: delivered\nStatus: 2.0.0\n"
    )
    report = parse_report(build_report("delivery-status", fields, subject="Successful Mail Delivery Report"))
    assert report is not None
    assert report.outcome == "delivered"


def test_generic_status_is_refined_from_the_diagnostic_and_missing_action_is_derived() -> None:
    """
    GIVEN a recipient block with Status 5.0.0, a diagnostic carrying 5.2.2 and no Action field
    WHEN it is parsed
    THEN the status is the specific 5.2.2 and the action is derived from the status class (failed)
    """
    fields = "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; bob@example.com\nStatus: 5.0.0\n"
    fields += "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n"
    report = parse_report(build_report("delivery-status", fields))
    assert report is not None
    assert report.recipients[0].status == "5.2.2"
    assert report.recipients[0].action == "failed"


MDN_FIELDS = f"""Reporting-UA: mail.example.com; Example Mail 1.0
Original-Recipient: rfc822;bob@example.com
Final-Recipient: rfc822;bob@example.com
Original-Message-ID: <{OUR_ID}>
Disposition: manual-action/MDN-sent-manually; displayed
"""


def test_rfc8098_read_receipt() -> None:
    """
    GIVEN an RFC 8098 disposition notification saying our message was displayed
    WHEN it is parsed
    THEN it is an MDN with outcome displayed, the final recipient and Original-Message-ID as the first id
    """
    report = parse_report(build_report("disposition-notification", MDN_FIELDS, subject="Read: [#42] printer"))
    assert report is not None
    assert report.kind is ReportKind.MDN
    assert report.outcome == "displayed"
    assert report.original_message_ids == (OUR_ID,)
    assert report.recipients[0].recipient == "bob@example.com"
    assert report.reporting_mta == "mail.example.com"


def test_rfc8098_other_dispositions() -> None:
    """
    GIVEN disposition notifications saying "deleted", "processed" and an unknown disposition type
    WHEN they are parsed
    THEN the outcomes are deleted, processed and other
    """
    outcomes = []
    for disposition in ("deleted", "processed", "exploded"):
        fields = MDN_FIELDS.replace("MDN-sent-manually; displayed", f"MDN-sent-automatically; {disposition}")
        report = parse_report(build_report("disposition-notification", fields))
        assert report is not None
        outcomes.append(report.outcome)
    assert outcomes == ["deleted", "processed", "other"]


EXIM_BOUNCE = b"""Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: support@postroom.example
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1bounce-0001@mx.example.net>
X-Failed-Recipients: bob@example.net
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  bob@example.net
    host mx.example.net [192.0.2.20]
    SMTP error from remote mail server after RCPT TO:<bob@example.net>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

Return-path: <support@postroom.example>
From: support@postroom.example
To: bob@example.net
Subject: Re: [#42] printer on fire
Message-ID: <ticket-42.a1b2@postroom.example>

We are looking into it.
"""

QMAIL_BOUNCE = b"""From: MAILER-DAEMON@mx4.example.jp
To: support@postroom.example
Subject: failure notice

Hi. This is the qmail-send program at mx4.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<kijitora@example.ne.jp>:
192.0.2.32 does not like recipient.
Remote host said: 550 5.1.1 Unknown user kijitora@example.ne.jp

--- Below this line is a copy of the message.

Message-ID: <ticket-42.a1b2@postroom.example>
From: support@postroom.example
To: kijitora@example.ne.jp
Subject: Re: [#42]

body
"""


def test_exim_plain_text_bounce() -> None:
    """
    GIVEN an Exim bounce without any RFC 3464 part, with X-Failed-Recipients and the original copied as text
    WHEN it is parsed
    THEN it is a failed DSN for that recipient with 5.1.1, and our Message-ID comes from the copied headers
    """
    report = parse_report(EXIM_BOUNCE)
    assert report is not None
    assert report.kind is ReportKind.DSN
    assert report.outcome == "failed"
    assert [recipient.recipient for recipient in report.recipients] == ["bob@example.net"]
    assert report.recipients[0].status == "5.1.1"
    assert report.original_message_ids == (OUR_ID,)


def test_qmail_plain_text_bounce_and_line_endings() -> None:
    """
    GIVEN a qmail "failure notice" with LF, CRLF and bare-CR line endings
    WHEN each is parsed
    THEN all three give the same failed report for the recipient listed as "<address>:"
    """
    reports = [parse_report(QMAIL_BOUNCE.replace(b"\n", ending)) for ending in (b"\n", b"\r\n", b"\r")]
    first = reports[0]
    assert first is not None
    assert first.recipients[0].recipient == "kijitora@example.ne.jp"
    assert first.recipients[0].status == "5.1.1"
    assert first.original_message_ids == (OUR_ID,)
    assert reports[1] == first
    assert reports[2] == first


def test_delay_warning_in_plain_text() -> None:
    """
    GIVEN a plain-text Sendmail warning that a message has not yet been delivered and will be retried
    WHEN it is parsed
    THEN the outcome is delayed, not failed
    """
    raw = b"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
To: support@postroom.example
Subject: Warning: could not send message for past 4 hours
In-Reply-To: <ticket-42.a1b2@postroom.example>

    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Mon, 3 Mar 2025 10:00:00 +0100
----- Transcript of session follows -----
<bob@example.com>... Deferred: 451 4.3.0 Temporary system error
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old
"""
    report = parse_report(raw)
    assert report is not None
    assert report.outcome == "delayed"
    assert report.recipients[0].recipient == "bob@example.com"
    assert report.original_message_ids == (OUR_ID,)


def test_ids_fall_back_to_in_reply_to_and_references() -> None:
    """
    GIVEN a DSN that returns no original at all but answers with In-Reply-To and References
    WHEN it is parsed
    THEN the ids are In-Reply-To first, then References newest first
    """
    raw = build_report("delivery-status", FAILED_FIELDS)
    raw = b"In-Reply-To: <b@postroom.example>\nReferences: <a@postroom.example> <b@postroom.example>\n" + raw
    report = parse_report(raw)
    assert report is not None
    assert report.original_message_ids == ("b@postroom.example", "a@postroom.example")


def test_mail_that_is_not_a_report_gives_none() -> None:
    """
    GIVEN an ordinary mail, a vacation auto-reply and a person forwarding a bounce
    WHEN each is parsed
    THEN none of them is a report (an ARF complaint is one: tests/mail/test_bounces_feedback.py)
    """
    ordinary = build_original()
    vacation = build_original()
    vacation.replace_header("Subject", "Out of Office: Re: [#42] printer on fire")
    vacation["Auto-Submitted"] = "auto-replied"
    vacation.set_content("I am out of the office until Monday and will not be able to deliver your request.\n")
    forwarded = EmailMessage()
    forwarded["From"] = "Bob <bob@example.com>"
    forwarded["To"] = "support@postroom.example"
    forwarded["Subject"] = "Fwd: Undelivered Mail Returned to Sender"
    forwarded.set_content("Why did this bounce?\n\n> This is the mail system at host mx.example.com.\n")
    for raw in (ordinary.as_bytes(), vacation.as_bytes(), forwarded.as_bytes()):
        assert parse_report(raw) is None


def test_garbage_gives_none() -> None:
    """
    GIVEN empty input, binary junk and a multipart/report whose machine part is unreadable
    WHEN each is parsed
    THEN the result is None or a report, never an exception
    """
    assert parse_report(b"") is None
    assert parse_report(b"\x00\xff\xfe" * 100) is None
    broken = build_report("delivery-status", "\x00\x01 not fields at all")
    result = parse_report(broken)
    assert result is None or isinstance(result, Report)


@pytest.mark.parametrize(
    "body",
    [
        b"Message-ID: " + b"a@" * 40_000,
        b"a" * 99_000,
        b"a" * 50_000 + b"@" + b"a." * 20_000,
        b"5.1.1 " + b"1." * 40_000,
    ],
)
def test_hostile_text_is_read_in_linear_time(body: bytes) -> None:
    """
    GIVEN a plain-text bounce whose body is 100 KB built to make backtracking regexes quadratic
    WHEN it is parsed
    THEN it finishes well within a second (each of these took 10-110 s before the patterns were anchored)
    """
    raw = b"From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail Returned to Sender\n\n" + body
    started = time.monotonic()
    parse_report(raw)
    assert time.monotonic() - started < MAX_SECONDS_FOR_HOSTILE_TEXT


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_parse_report_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    """
    GIVEN arbitrary bytes
    WHEN they are parsed as a report
    THEN the result is None or a Report, never an exception
    """
    result = parse_report(raw)
    assert result is None or isinstance(result, Report)


SEED = build_report("delivery-status", FAILED_FIELDS, original=build_original())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SEED)), st.integers(min_value=0, max_value=400), st.binary(max_size=40))
def test_parse_report_never_raises_on_mutated_reports(start: int, length: int, junk: bytes) -> None:
    """
    GIVEN a real-looking DSN with a slice replaced by junk
    WHEN it is parsed
    THEN the result is None or a Report, never an exception
    """
    result = parse_report(SEED[:start] + junk + SEED[start + length :])
    assert result is None or isinstance(result, Report)
