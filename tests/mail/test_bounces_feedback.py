"""Feedback reports (RFC 5965) and the `bounce` key of `postroom inspect`."""

from __future__ import annotations

from pathlib import Path

from postroom.mail.inspection import build_inspect_record
from postroom.mail.parse import parse_message
from postroom.mail.reports import Reason, ReportKind, parse_report

ARF = (
    b"From: abuse@isp.example\r\nTo: support@desk.example\r\nSubject: complaint\r\n"
    b"Message-ID: <arf-1@isp.example>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
    b"--b\r\nContent-Type: message/feedback-report\r\n\r\n"
    b"Feedback-Type: abuse\r\nUser-Agent: ISP-FBL/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: <bob@isp.example>\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: support@desk.example\r\nTo: bob@isp.example\r\nMessage-ID: <ours-1@desk.example>\r\n"
    b"Subject: hi\r\n\r\nhi\r\n"
    b"--b--\r\n"
)
DSN = (
    b"From: MAILER-DAEMON@mx.example.org\r\nTo: support+rb-x@desk.example\r\nSubject: Undelivered Mail\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry.\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
    b"Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: User unknown\r\n"
    b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours-2@desk.example>\r\n"
    b"--b--\r\n"
)


def test_arf_complaint_is_a_feedback_report() -> None:
    """
    GIVEN an RFC 5965 abuse report about our message
    WHEN it is parsed
    THEN it is a feedback report naming the complaining recipient and our Message-ID, reason feedback, never hard
    """
    report = parse_report(ARF)
    assert report is not None and report.kind is ReportKind.FEEDBACK and report.outcome == "complained"
    [recipient] = report.recipients
    assert (recipient.recipient, recipient.action, recipient.reason, recipient.hard) == (
        "bob@isp.example",
        "abuse",
        Reason.FEEDBACK,
        False,
    )
    assert report.original_message_ids[0] == "ours-1@desk.example"


def test_inspect_bounce_key() -> None:
    """
    GIVEN a delivery failure report, a feedback report and an ordinary mail
    WHEN their inspect records are built from the raw bytes
    THEN the bounce key lists the failed recipient with status, reply code, reason and hard, and the original's
         Message-ID; it is null for the complaint, the ordinary mail, and without raw bytes
    """
    record = build_inspect_record(parse_message(DSN), "dsn.eml", raw=DSN)
    assert record["bounce"] == {
        "recipients": [
            {
                "address": "bob@example.org",
                "status": "5.1.1",
                "reply_code": "550",
                "reason": "userunknown",
                "hard": True,
            }
        ],
        "original_message_id": "ours-2@desk.example",
    }
    assert build_inspect_record(parse_message(ARF), "arf.eml", raw=ARF)["bounce"] is None
    assert build_inspect_record(parse_message(DSN), "dsn.eml")["bounce"] is None
    plain = Path(__file__).resolve().parents[1] / "corpus" / "regressions" / "cid-inline-image.eml"
    raw = plain.read_bytes()
    assert build_inspect_record(parse_message(raw), "x.eml", raw=raw)["bounce"] is None
