"""Decide whether the message may become a ticket; for now: it needs a usable requester address.

Spam, sender authentication, loops, bounces and attachment policy join this stage with issue #6.
"""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
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
    return StageResult(
        verdict="accepted",
        reason=f"requester taken from {requester.source}",
        data={"requester": requester.address.address, "source": requester.source},
    )
