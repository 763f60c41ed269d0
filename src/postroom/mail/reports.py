"""Read reports about our mail: delivery (RFC 3464, plain-text bounces, SES; see `postroom.mail.bounces`),
disposition (RFC 8098 read receipts, here) and feedback (RFC 5965 complaints).

`parse_report` is the one entry point; `may_be_report` is the cheap test that spares most mail the parse.
"""

from __future__ import annotations

import email
import re
from email.message import Message
from email.policy import compat32
from typing import Final

from postroom.mail.bounces.dsn import build_dsn
from postroom.mail.bounces.feedback import read_feedback
from postroom.mail.bounces.parts import (
    DSN_TYPES,
    FEEDBACK_TYPES,
    MDN_TYPES,
    finish_ids,
    header,
    human_text,
    original_ids,
    part_blocks,
    part_fields,
    untyped,
    walk,
)
from postroom.mail.bounces.plaintext import BOUNCE_SUBJECT, DAEMON_SENDER, read_plain_bounce
from postroom.mail.bounces.values import Outcome, Reason, RecipientStatus, Report, ReportKind
from postroom.mail.parse.headers import parse_ids
from postroom.mail.parse.structure import strip_mbox_separator

__all__ = [
    "Outcome",
    "Reason",
    "RecipientStatus",
    "Report",
    "ReportKind",
    "is_hard_bounce",
    "may_be_report",
    "parse_report",
]

# RFC 6522 report types read here; others (RFC 8460 TLS reports, ...) are not about the delivery of one message
REPORT_TYPES: Final = frozenset({"delivery-status", "disposition-notification", "global-delivery-status"})
FEEDBACK_REPORT_TYPE: Final = "feedback-report"  # RFC 5965 §3
MDN_DISPOSITIONS: Final = ("displayed", "deleted", "dispatched", "processed")  # RFC 8098 §3.2.6.2
_DISPOSITION_TYPE: Final = re.compile(r";\s*([A-Za-z-]+)")


def parse_report(raw: bytes) -> Report | None:
    """The report in these bytes, or None when they are not a DSN/MDN/ARF (or a recognisable bounce); never raises."""
    try:
        if b"\n" not in raw:
            raw = raw.replace(b"\r", b"\n")  # old Mac line ends: quoted-printable soft breaks need a line feed
        message = email.message_from_bytes(strip_mbox_separator(raw), policy=compat32)
        return _read_report(message, 0)
    except Exception:  # hostile input is simply "not a report"; the caller must never crash here
        return None


def _read_report(message: Message, depth: int) -> Report | None:
    parts = walk(message, depth)
    report_type = str(message.get_param("report-type", "") or "").lower()
    ids = original_ids(message, parts)
    feedback = next((part for part in parts if part.get_content_type() in FEEDBACK_TYPES), None)
    if feedback is not None:
        return read_feedback(message, parts, feedback, ids)
    if message.get_content_type() == "multipart/report" and report_type and report_type not in REPORT_TYPES:
        return None  # RFC 8460 TLS reports and the like: not about delivery of one message
    own_id = header(message, "message-id")
    for part in parts:
        if part.get_content_type() in MDN_TYPES:
            return _build_mdn(part_fields(part), ids, own_id)
    status_parts = [part for part in parts if part.get_content_type() in DSN_TYPES]
    if status_parts:
        blocks = [block for part in status_parts for block in part_blocks(part)]
        report = build_dsn(blocks, ids, own_id, human_text(parts))
        if report is not None:
            return report
    forced = bool(status_parts) or report_type in REPORT_TYPES
    return read_plain_bounce(message, parts, ids, depth, forced=forced, read_nested=_read_report)


def _build_mdn(fields: dict[str, str], ids: list[str], own_id: str) -> Report:
    """RFC 8098 §3.2: Disposition "action-mode/sending-mode; type", plus Original-Message-ID and Final-Recipient."""
    disposition = fields.get("disposition", "")
    match = _DISPOSITION_TYPE.search(disposition)
    found = match.group(1).lower() if match else ""
    outcome: Outcome = "other"
    for candidate in MDN_DISPOSITIONS:
        if found == candidate:
            outcome = candidate
    recipient = untyped(fields.get("final-recipient", "") or fields.get("original-recipient", ""))
    original = list(parse_ids(fields.get("original-message-id", "")))
    status = RecipientStatus(recipient=recipient, action=found, status="", diagnostic=disposition)
    return Report(
        kind=ReportKind.MDN,
        original_message_ids=finish_ids(original + ids, own_id),
        outcome=outcome,
        recipients=(status,) if recipient or found else (),
        reporting_mta=untyped(fields.get("reporting-ua", "")).split(";")[0].strip(),
        summary=f"{outcome} by {recipient or 'the recipient'}",
    )


# Read receipts and the few bounce subjects `BOUNCE_SUBJECT` does not need (it works with body evidence).
_RECEIPT_SUBJECT: Final = re.compile(
    r"read:|gelesen:|lu :|disposition|receipt|delivery|zustellung|nicht zugestellt|rapport|non.?remis|no entregado",
    re.I,
)


def may_be_report(headers: tuple[tuple[str, str], ...], subject: str, sender: str) -> bool:
    """A cheap test on already-parsed headers: False means `parse_report` need not look (most mail).

    True for multipart/report, X-Failed-Recipients, a null Return-Path, a MAILER-DAEMON/postmaster sender or a
    subject that reads like a bounce or a read receipt; `parse_report` then decides.
    """
    head = subject[:300]
    if DAEMON_SENDER.search(sender) or BOUNCE_SUBJECT.search(head) or _RECEIPT_SUBJECT.search(head):
        return True
    for name, value in headers:
        key = name.lower()
        if key == "content-type" and "report" in value.lower():
            return True
        if key == "x-failed-recipients" or (key == "return-path" and value.strip() in {"<>", ""}):
            return True
    return False


def is_hard_bounce(report: Report) -> bool:
    """Whether any failed recipient of this delivery report is dead (`Reason` docs: userunknown, hostunknown...)."""
    return report.kind is ReportKind.DSN and any(r.hard and r.action == "failed" for r in report.recipients)
