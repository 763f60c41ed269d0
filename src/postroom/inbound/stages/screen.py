"""Decide whether the message may become a ticket; for now: it needs a usable requester address.

Spam, sender authentication, loops, bounces and attachment policy join this stage with issue #6.
"""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
from postroom.mail.values import Address

NAME: Final = "screen"


def is_usable(address: Address | None) -> bool:
    if address is None:
        return False
    local, at, domain = address.address.partition("@")
    return bool(local and at and "." in domain and " " not in address.address)


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    envelope = Address(name="", address=ctx.inbound.envelope_from.strip().strip("<>"))
    candidates = (
        ("From", parsed.from_),
        ("Reply-To", parsed.reply_to[0] if parsed.reply_to else None),
        ("Sender", parsed.sender[0] if parsed.sender else None),
        ("envelope sender", envelope),
    )
    for source, address in candidates:
        if address is not None and is_usable(address):
            ctx.requester = address
            return StageResult(
                verdict="accepted",
                reason=f"requester taken from {source}",
                data={"requester": address.address, "source": source},
            )
    return StageResult(
        verdict="quarantine",
        reason="no usable sender address in From, Reply-To, Sender or the envelope",
        stop=Stop(InboundStatus.QUARANTINED, QuarantineCause.MALFORMED),
    )
