"""Decide whether the message may become a ticket, one screen after another (postroom.inbound.screens).

It needs a usable requester address first. Then, in order: the allow and block lists, sender authentication
(postroom.inbound.sender_auth: a possible spoof is held when the mailbox's sender_auth mode says so), the spam
score, automatic mail (loops and per-sender rate windows) and the attachment policy. The first screen that holds
the message stops the pipeline with its quarantine cause, unless an admin's release waived that cause.
"""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
from postroom.inbound.screening import DataValue, Finding, Screen
from postroom.inbound.screens import attachment_policy, automation, sender_lists, spam
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
    reasons = [f"requester taken from {requester.source}"]
    data: dict[str, DataValue] = {"requester": requester.address.address, "source": requester.source}
    released = False
    for screen in SCREENS:
        finding = screen.check(ctx)
        if finding is None:
            continue
        reasons.append(finding.reason)
        data.update(finding.data)
        if not finding.hold:
            continue
        waiver = find_waiver(ctx, finding.hold)
        if waiver is not None:
            reasons.append(f"released by {waiver.released_by} ({finding.hold} waived), so it goes on")
            released = True
            continue
        return StageResult(
            verdict="quarantine",
            reason="; ".join([finding.reason, *reasons[:-1]]),  # the deciding screen's reason first
            data=data,
            stop=Stop(InboundStatus.QUARANTINED, finding.hold, drop=finding.drop),
        )
    return StageResult(verdict="released" if released else "accepted", reason="; ".join(reasons), data=data)


def _check_auth(ctx: InboundContext) -> Finding:
    outcome = check_sender(ctx)
    data = dict(outcome.trace_data())
    reason = _describe(outcome)
    if not outcome.hold:
        return Finding(reason=reason, data=data)
    if ctx.skip_auth:
        return Finding(reason=f"{reason}; the sender is allow-listed with authentication skipped", data=data)
    if outcome.mode == REJECT:
        data["outcome"] = "rejected"
        when = (
            "the SMTP listener accepted it (no SMTP mailbox in reject mode for its recipients, or a DNS lookup "
            "failed during the session)"
            if ctx.inbound.source_kind == SMTP_SOURCE
            else "mail fetched from a mailbox or imported cannot be refused"
        )
        reason = f"rejected: {reason}; {when}, so it is quarantined as auth_failed"
    return Finding(reason=reason, data=data, hold=QuarantineCause.AUTH_FAILED)


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


SCREENS: Final[tuple[Screen, ...]] = (
    Screen(sender_lists.NAME, sender_lists.check),
    Screen("sender_auth", _check_auth),
    Screen(spam.NAME, spam.check),
    Screen(automation.NAME, automation.check),
    Screen(attachment_policy.NAME, attachment_policy.check),
)
