"""Link delivery, read and feedback reports (RFC 3464, RFC 8098, RFC 5965) to the outbound message they answer.

Our mail leaves with a VERP return path (`support+rb-<token>@...`, signed, naming the message), so a bounce is
linked by the address it came back to first (envelope recipient, Delivered-To, To), then by the Message-ID of
our message that it embeds. Reports never open tickets: a linked one becomes a line in that message's
communication log (a hard bounce also marks the address undeliverable); one that answers nothing we sent is
quarantined (cause `bounce_unmatched`); once an admin released it, it goes on as ordinary mail.
"""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
from postroom.inbound.thread_lookup import find_thread_hits
from postroom.inbound.waivers import find_waiver
from postroom.mail.reports import Report, may_be_report, parse_report
from postroom.mail.tokens import BOUNCE_PURPOSE, TokenVerdict, find_bounce_tokens, verify_token
from postroom.mail.values import ParsedMessage
from postroom.outbound.receipts import record_receipt
from postroom.tenants.keys import get_key_ring
from postroom.tickets.models import Direction, Message

NAME: Final = "receipt"


def _find_by_return_path(ctx: InboundContext, parsed: ParsedMessage) -> Message | None:
    """Our outbound message named by a valid VERP token in the address the report came back to."""
    addresses = [*map(str, ctx.inbound.envelope_to or [])]
    addresses += [mailbox.address for mailbox in (*parsed.delivered_to, *parsed.to)]
    tokens = find_bounce_tokens(addresses)
    if not tokens:
        return None
    ring = get_key_ring(ctx.tenant)
    for text in tokens:
        check = verify_token(text, ring.keys, ring.retired, BOUNCE_PURPOSE)
        if check.verdict is TokenVerdict.VALID and check.token is not None:
            found = (
                Message.objects.select_related("ticket")
                .filter(
                    tenant=ctx.tenant,
                    pk=check.token.message_id,
                    ticket_id=check.token.ticket_id,
                    direction=Direction.OUTBOUND,
                )
                .first()
            )
            if found is not None:
                return found
    return None


def _find_by_message_id(ctx: InboundContext, report: Report) -> Message | None:
    ours = [
        hit.message_pk
        for hit in find_thread_hits(ctx.tenant.pk, message_ids=report.original_message_ids)
        if hit.message_direction == Direction.OUTBOUND and hit.message_pk is not None
    ]
    return Message.objects.select_related("ticket").get(pk=ours[0]) if ours else None


def _report_data(report: Report) -> dict[str, str | int | None]:
    """The trace's data: kind, outcome and, for a bounce, "address: hard|soft reason status" per recipient."""
    data: dict[str, str | int | None] = {"kind": str(report.kind), "outcome": report.outcome}
    failed = [r for r in report.recipients if r.action in ("failed", "delayed")]
    if failed:
        data["recipients"] = "; ".join(
            f"{r.recipient or '?'}: {'hard' if r.hard else 'soft'} {r.reason} {r.status}".strip() for r in failed[:10]
        )
    return data


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    sender = parsed.from_.address if parsed.from_ is not None else ctx.inbound.envelope_from
    if not may_be_report(parsed.headers, parsed.subject, sender):
        return StageResult(verdict="not_a_report", reason="no sign of a delivery or read report")
    report = parse_report(ctx.raw)
    if report is None:
        return StageResult(verdict="not_a_report", reason="not a delivery or read report")
    message = _find_by_return_path(ctx, parsed)
    linked_by = "its return path"
    if message is None:
        message = _find_by_message_id(ctx, report)
        linked_by = "the Message-ID it quotes"
    if message is None:
        waiver = find_waiver(ctx, QuarantineCause.BOUNCE_UNMATCHED)
        if waiver is not None:
            return StageResult(
                verdict="released",
                reason=f"a {report.kind} report for mail we did not send; released by {waiver.released_by}, "
                "it goes on as ordinary mail",
                data=_report_data(report),
            )
        return StageResult(
            verdict="quarantine",
            reason=f"a {report.kind} report ({report.outcome}) for mail we did not send: {report.summary[:200]}",
            data=_report_data(report),
            stop=Stop(InboundStatus.QUARANTINED, QuarantineCause.BOUNCE_UNMATCHED),
        )
    record_receipt(message, report, ctx.inbound)
    return StageResult(
        verdict="receipt",
        reason=f"{report.kind} for our message {message.pk} on {message.ticket.reference}, linked by {linked_by}: "
        f"{report.summary[:200]}",
        data={"ticket": message.ticket.reference, "message": message.pk, **_report_data(report)},
        stop=Stop(InboundStatus.PROCESSED),
    )
