"""Decide whether the message may become a ticket: it needs a usable requester address, and its sender must not
look forged when the mailbox's sender_auth mode holds possible spoofs (postroom.inbound.sender_auth).

Spam, loops, bounces and attachment policy join this stage with issue #6.
"""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
from postroom.inbound.sender_auth import REJECT, SMTP_SOURCE, AuthOutcome, check_sender
from postroom.inbound.waivers import find_waiver
from postroom.mail.requester import find_requester

NAME: Final = "screen"


def run(ctx: InboundContext) -> StageResult:
    requester = find_requester(ctx.require_parsed(), ctx.inbound.envelope_from)
    if requester is None:
        return StageResult(
            verdict="quarantine",
            reason="no usable sender address in From, Reply-To, Sender or the envelope",
            stop=Stop(InboundStatus.QUARANTINED, QuarantineCause.MALFORMED),
        )
    ctx.requester = requester.address
    outcome = check_sender(ctx)
    data = {"requester": requester.address.address, "source": requester.source, **outcome.trace_data()}
    reason = f"requester taken from {requester.source}; {_describe(outcome)}"
    if not outcome.hold:
        return StageResult(verdict="accepted", reason=reason, data=data)
    waiver = find_waiver(ctx, QuarantineCause.AUTH_FAILED)
    if waiver is not None:
        return StageResult(
            verdict="released",
            reason=f"{reason}; released by {waiver.released_by}, so it goes on, still marked as a possible spoof",
            data=data,
        )
    if outcome.mode == REJECT:
        data["outcome"] = "rejected"
        when = (
            "the SMTP listener had already answered 250 when the pipeline ran"
            if ctx.inbound.source_kind == SMTP_SOURCE
            else "mail fetched from a mailbox or imported cannot be refused"
        )
        reason = (
            f"rejected: {reason}; {when}, so it is quarantined as auth_failed "
            "(refusing during the SMTP session comes in a later increment)"
        )
    return StageResult(
        verdict="quarantine",
        reason=reason,
        data=data,
        stop=Stop(InboundStatus.QUARANTINED, QuarantineCause.AUTH_FAILED),
    )


def _describe(outcome: AuthOutcome) -> str:
    auth = outcome.result
    if auth is None:
        return "sender authentication off for this mailbox"
    if not auth.possible_spoof:
        return f"sender authentication: no sign of spoofing (DMARC {auth.dmarc.result})"
    first = auth.evidence[0] if auth.evidence else "possible spoof"
    if outcome.temporary:
        return f"possible spoof ({first}), only tagged: a DNS lookup failed temporarily"
    return f"possible spoof ({first}), mode {outcome.mode}"
