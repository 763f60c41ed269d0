"""Choose the queue from the addresses the message was delivered to (envelope, Delivered-To, To, Cc)."""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult
from postroom.inbound.queries import find_route_queue
from postroom.mail.recipients import list_recipient_candidates
from postroom.tickets.queries import find_default_queue
from postroom.tickets.services import ensure_default_queue

NAME: Final = "route"


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    candidates = list_recipient_candidates(parsed, tuple(ctx.inbound.envelope_to))
    match = find_route_queue(ctx.tenant, ctx.mailbox, candidates)
    if match is not None:
        ctx.queue = match.queue
        return StageResult(
            verdict="routed",
            reason=f"{match.candidate.source} address {match.candidate.address} matches route {match.route_address}",
            data={"queue": match.queue.slug, "address": match.candidate.address, "route": match.route_address},
        )
    if ctx.mailbox is not None:
        ctx.queue = ctx.mailbox.default_queue
        return StageResult(
            verdict="default",
            reason=f"no route matches; mailbox {ctx.mailbox.name} sends unrouted mail to its default queue",
            data={"queue": ctx.queue.slug},
        )
    ctx.queue = find_default_queue(ctx.tenant) or ensure_default_queue(ctx.tenant)
    return StageResult(
        verdict="default",
        reason="no route matches any recipient; the tenant's default queue takes it",
        data={"queue": ctx.queue.slug},
    )
