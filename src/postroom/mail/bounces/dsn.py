"""RFC 3464 delivery status notifications: per-message fields and one block per recipient, classified."""

from __future__ import annotations

from typing import Final

from postroom.mail.bounces.codes import (
    FAILURE_STATUS,
    find_reply_code,
    find_smtp_command,
    is_generic_status,
    refine_status,
)
from postroom.mail.bounces.parts import Block, finish_ids, untyped
from postroom.mail.bounces.reasons import DELIVERED_ACTIONS, classify_reason, is_hard
from postroom.mail.bounces.values import Outcome, RecipientStatus, Report, ReportKind

MAX_RECIPIENTS: Final = 100  # recipient records kept; one per RCPT TO, and MTAs cap those at 100 (RFC 5321 §4.5.3.1.8)
MAX_DIAGNOSTIC_CHARS: Final = (
    300  # diagnostic kept per recipient; the SMTP reply line limit is 512 (RFC 5321 §4.5.3.1.5)
)
MAX_SCAN_CHARS: Final = 2_000  # diagnostic read for codes and reasons: a multi-line reply runs to a few lines
MAX_SEGMENT_CHARS: Final = 1_500  # human-readable text about one recipient (our bound)


def action_of(action_field: str, status: str) -> str:
    """The RFC 3464 action (first word, lower case), else the one the status class implies."""
    action = action_field.strip().split(" ")[0].lower() if action_field.strip() else ""
    if action:
        return action
    return {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[:1], "")


def build_recipient(
    address: str, action: str, status: str, diagnostic: str, *, context: str = "", diagnostic_type: str = ""
) -> RecipientStatus:
    """One recipient's record with its reply code, reason and hard/soft worked out.

    `context` is the report's prose about this recipient (its segment of the human-readable part): it gives a
    vague or missing status its specific code and names the reason when the diagnostic does not.
    """
    if context and is_generic_status(status):
        found = FAILURE_STATUS.search(context)
        if found is not None and (not status or found.group(1) == status[:1]):
            status = found.group(0)
    reply_code = find_reply_code(diagnostic, status) or find_reply_code(context, status)
    command = find_smtp_command(diagnostic) or find_smtp_command(context)
    # RFC 3464 §2.3.6: "X-Unix; 75" is the exit status of a local delivery program, not a server's reply
    described = f"{diagnostic_type}; {diagnostic}" if diagnostic_type == "x-unix" else diagnostic
    reason = classify_reason(status, reply_code, described, action, context=context, command=command)
    return RecipientStatus(
        recipient=address,
        action=action,
        status=status,
        diagnostic=diagnostic[:MAX_DIAGNOSTIC_CHARS],
        reply_code=reply_code,
        reason=reason,
        hard=is_hard(reason, status, reply_code) and action not in DELIVERED_ACTIONS,
    )


def find_segment(text: str, address: str, others: list[str]) -> str:
    """The text about one recipient: from the first mention of its address to the next other recipient's
    (or the whole text when the address is not in it and it is the only recipient)."""
    lowered = text.lower()
    start = lowered.find(address.lower()) if address else -1
    if start < 0:
        return text[:MAX_SEGMENT_CHARS] if not others else ""
    ends = [pos for other in others if other and (pos := lowered.find(other.lower(), start + 1)) > start]
    return text[start : min([*ends, start + MAX_SEGMENT_CHARS])]


def build_dsn(blocks: list[Block], ids: list[str], message_id: str, explanation: str = "") -> Report | None:
    """RFC 3464 §2.2/§2.3: per-message fields (Reporting-MTA) and one block per recipient; None without one.

    `explanation` is the report's human-readable text; each recipient's part of it fills in what its fields lack.
    """
    reporting_mta = ""
    found: list[tuple[str, str, str, str, str]] = []
    for block in blocks:
        fields: dict[str, str] = {}
        for name, value in block:
            fields.setdefault(name, value)
        reporting_mta = reporting_mta or untyped(fields.get("reporting-mta", ""))
        address = fields.get("final-recipient") or fields.get("original-recipient") or fields.get("x-actual-recipient")
        if not address and "status" not in fields and "action" not in fields:
            continue
        typed = fields.get("diagnostic-code", "")
        diagnostic = untyped(typed)[:MAX_SCAN_CHARS]
        kind = typed.split(";", 1)[0].strip().lower() if ";" in typed else ""
        status = refine_status(fields.get("status", ""), diagnostic)
        found.append((untyped(address or ""), action_of(fields.get("action", ""), status), status, diagnostic, kind))
    if not found:
        return None
    addresses = [address for address, *_ in found[:MAX_RECIPIENTS]]
    recipients = []
    for index, (address, action, status, diagnostic, kind) in enumerate(found[:MAX_RECIPIENTS]):
        segment = find_segment(explanation, address, addresses[:index] + addresses[index + 1 :])
        recipients.append(build_recipient(address, action, status, diagnostic, context=segment, diagnostic_type=kind))
    return assemble(recipients, ids, reporting_mta, message_id)


def assemble(recipients: list[RecipientStatus], ids: list[str], reporting_mta: str, message_id: str) -> Report:
    """The report: the worst outcome of its recipients (failed, then delayed, then delivered) and a summary."""
    actions = {recipient.action for recipient in recipients}
    outcome: Outcome = "other"
    if "failed" in actions:
        outcome = "failed"
    elif "delayed" in actions:
        outcome = "delayed"
    elif actions & DELIVERED_ACTIONS:
        outcome = "delivered"
    first = next((r for r in recipients if r.action == outcome), recipients[0])
    others = f" (+{len(recipients) - 1} more)" if len(recipients) > 1 else ""
    detail = " ".join(piece for piece in (first.status, first.diagnostic) if piece)
    summary = f"{outcome} for {first.recipient or 'an unknown recipient'}{others}" + (f": {detail}" if detail else "")
    return Report(
        kind=ReportKind.DSN,
        original_message_ids=finish_ids(ids, message_id),
        outcome=outcome,
        recipients=tuple(recipients),
        reporting_mta=reporting_mta,
        summary=summary[:MAX_DIAGNOSTIC_CHARS],
    )
