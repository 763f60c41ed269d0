"""Feedback reports (RFC 5965 ARF): a recipient complained about our message (abuse, fraud, opt-out, ...).

A complaint is not a delivery failure: the recipient's reason is `feedback`, never hard, and the action is the
Feedback-Type (RFC 5965 §3.5), so a caller can stop mailing an address that opted out without calling it dead.
"""

from __future__ import annotations

from email.message import Message
from typing import Final

from postroom.mail.bounces.dsn import MAX_DIAGNOSTIC_CHARS, MAX_RECIPIENTS
from postroom.mail.bounces.parts import ORIGINAL_TYPES, finish_ids, header, part_fields, untyped
from postroom.mail.bounces.values import Reason, RecipientStatus, Report, ReportKind

DEFAULT_FEEDBACK_TYPE: Final = "abuse"  # RFC 5965 §7.3 registry; used when the report names none


def build_feedback(recipients: list[str], feedback_type: str, ids: list[str], reporter: str, own_id: str) -> Report:
    """A complaint report: one `feedback` record per complaining recipient (one without an address if none)."""
    kind = (feedback_type.strip().split(" ")[0].lower() or DEFAULT_FEEDBACK_TYPE)[:32]
    records = [
        RecipientStatus(recipient=address, action=kind, status="", diagnostic="", reason=Reason.FEEDBACK)
        for address in dict.fromkeys(recipients or [""])
    ][:MAX_RECIPIENTS]
    who = records[0].recipient or "a recipient"
    return Report(
        kind=ReportKind.FEEDBACK,
        original_message_ids=finish_ids(ids, own_id),
        outcome="complained",
        recipients=tuple(records),
        reporting_mta=reporter,
        summary=f"{kind} complaint from {who}"[:MAX_DIAGNOSTIC_CHARS],
    )


def read_feedback(message: Message, parts: list[Message], feedback_part: Message, ids: list[str]) -> Report:
    """RFC 5965 §3.1/§3.2: Feedback-Type, Original-Rcpt-To (else the returned original's To), Reporting-MTA."""
    fields = part_fields(feedback_part)
    recipients = [untyped(value) for value in (fields.get("original-rcpt-to", ""), fields.get("removal-recipient", ""))]
    recipients = [address for address in recipients if "@" in address]
    if not recipients:
        for part in parts:
            if part.get_content_type() in ORIGINAL_TYPES and isinstance(part.get_payload(), list):
                recipients += [header(inner, "to") for inner in part.get_payload() if isinstance(inner, Message)]
        recipients = [untyped(address.split(",")[0]) for address in recipients if "@" in address][:1]
    reporter = untyped(fields.get("reporting-mta", "")) or untyped(fields.get("user-agent", ""))
    return build_feedback(
        recipients, fields.get("feedback-type", ""), ids, reporter[:MAX_DIAGNOSTIC_CHARS], header(message, "message-id")
    )
