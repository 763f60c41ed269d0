"""Amazon SES event notifications (JSON, bare or in an SNS envelope): Bounce and Delivery read as DSNs,
Complaint as a feedback report."""

from __future__ import annotations

import json

from postroom.mail.bounces.codes import refine_status
from postroom.mail.bounces.dsn import MAX_DIAGNOSTIC_CHARS, action_of, assemble, build_recipient
from postroom.mail.bounces.feedback import build_feedback
from postroom.mail.bounces.parts import untyped
from postroom.mail.bounces.values import RecipientStatus, Report
from postroom.mail.parse.headers import parse_ids


def _as_dict(value: object) -> dict[str, object]:
    return {str(key): item for key, item in value.items()} if isinstance(value, dict) else {}


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def parse_ses_notification(text: str, own_id: str) -> Report | None:
    """The report in an SES Bounce, Delivery or Complaint event; None for any other text (or event type)."""
    start = text.lstrip()
    if not start.startswith("{"):
        return None
    try:
        event = _as_dict(json.JSONDecoder(strict=False).raw_decode(start)[0])
        if isinstance(event.get("Message"), str):
            event = _as_dict(json.loads(str(event["Message"]), strict=False))
    except ValueError:
        return None
    kind = str(event.get("notificationType") or event.get("eventType") or "")
    mail = _as_dict(event.get("mail"))
    ids = [
        found
        for header in map(_as_dict, _as_list(mail.get("headers")))
        if str(header.get("name", "")).lower() == "message-id"
        for found in parse_ids(str(header.get("value", "")))
    ]
    ids.extend(parse_ids(str(_as_dict(mail.get("commonHeaders")).get("messageId", ""))))
    recipients: list[RecipientStatus] = []
    if kind == "Bounce":
        bounce = _as_dict(event.get("bounce"))
        # SES's own verdict: "Permanent" (the address is dead or refused for good), "Transient" or "Undetermined"
        context = " ".join(str(bounce.get(key, "")) for key in ("bounceType", "bounceSubType"))
        for entry in map(_as_dict, _as_list(bounce.get("bouncedRecipients"))):
            diagnostic = untyped(str(entry.get("diagnosticCode", "")))[:MAX_DIAGNOSTIC_CHARS]
            status = refine_status(str(entry.get("status", "")), diagnostic)
            action = action_of(str(entry.get("action", "")), status) or "failed"
            address = str(entry.get("emailAddress", ""))
            recipients.append(build_recipient(address, action, status, diagnostic, context=context))
        recipients = recipients or [build_recipient("", "failed", "", "", context=context)]
        return assemble(recipients, ids, untyped(str(bounce.get("reportingMTA", ""))), own_id)
    if kind == "Delivery":
        delivery = _as_dict(event.get("delivery"))
        response = str(delivery.get("smtpResponse", ""))
        for delivered in _as_list(delivery.get("recipients")):
            recipients.append(build_recipient(str(delivered), "delivered", refine_status("", response), response))
        recipients = recipients or [build_recipient("", "delivered", "", response)]
        return assemble(recipients, ids, str(delivery.get("reportingMTA", "")), own_id)
    if kind == "Complaint":
        complaint = _as_dict(event.get("complaint"))
        entries = map(_as_dict, _as_list(complaint.get("complainedRecipients")))
        addresses = [str(entry.get("emailAddress", "")) for entry in entries]
        feedback_type = str(complaint.get("complaintFeedbackType", ""))
        return build_feedback(addresses, feedback_type, ids, str(complaint.get("userAgent", "")), own_id)
    return None
