"""Link delivery and read reports (RFC 3464 DSNs, RFC 8098 MDNs) to the outbound message they answer.

Reports never open tickets: one that answers our mail becomes a line in that message's communication log; one
that answers nothing we sent is quarantined (cause `bounce_unmatched`) for the bounce handling of issue #6; once an
admin released it, it goes on as ordinary mail.
"""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
from postroom.inbound.thread_lookup import find_thread_hits
from postroom.inbound.waivers import find_waiver
from postroom.mail.reports import may_be_report, parse_report
from postroom.outbound.receipts import record_receipt
from postroom.tickets.models import Direction, Message

NAME: Final = "receipt"


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    sender = parsed.from_.address if parsed.from_ is not None else ctx.inbound.envelope_from
    if not may_be_report(parsed.headers, parsed.subject, sender):
        return StageResult(verdict="not_a_report", reason="no sign of a delivery or read report")
    report = parse_report(ctx.raw)
    if report is None:
        return StageResult(verdict="not_a_report", reason="not a delivery or read report")
    ours = [
        hit.message_pk
        for hit in find_thread_hits(ctx.tenant.pk, message_ids=report.original_message_ids)
        if hit.message_direction == Direction.OUTBOUND and hit.message_pk is not None
    ]
    if not ours:
        waiver = find_waiver(ctx, QuarantineCause.BOUNCE_UNMATCHED)
        if waiver is not None:
            return StageResult(
                verdict="released",
                reason=f"a {report.kind} report for mail we did not send; released by {waiver.released_by}, "
                "it goes on as ordinary mail",
                data={"kind": str(report.kind), "outcome": report.outcome},
            )
        return StageResult(
            verdict="quarantine",
            reason=f"a {report.kind} report ({report.outcome}) for mail we did not send: {report.summary[:200]}",
            data={"kind": str(report.kind), "outcome": report.outcome},
            stop=Stop(InboundStatus.QUARANTINED, QuarantineCause.BOUNCE_UNMATCHED),
        )
    message = Message.objects.select_related("ticket").get(pk=ours[0])
    record_receipt(message, report, ctx.inbound)
    return StageResult(
        verdict="receipt",
        reason=f"{report.kind} for our message {message.pk} on {message.ticket.reference}: {report.summary[:200]}",
        data={"ticket": message.ticket.reference, "message": message.pk, "outcome": report.outcome},
        stop=Stop(InboundStatus.PROCESSED),
    )
