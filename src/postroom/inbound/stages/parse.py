"""Parse the raw bytes with the pure core; quarantine what breaks a limit (unless an admin released it)."""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundStatus, QuarantineCause
from postroom.inbound.waivers import find_waiver
from postroom.mail.parse import parse_message
from postroom.mail.values import LimitBreach, Limits

NAME: Final = "parse"

CAUSE_BY_BREACH: Final = {
    LimitBreach.SIZE: QuarantineCause.OVERSIZED,
    LimitBreach.HEADERS: QuarantineCause.OVERSIZED,
    LimitBreach.PARTS: QuarantineCause.MALFORMED,
    LimitBreach.DEPTH: QuarantineCause.MALFORMED,
}


def run(ctx: InboundContext) -> StageResult:
    parsed = parse_message(
        ctx.raw, received_at=ctx.inbound.received_at, limits=Limits(max_bytes=ctx.options.max_message_bytes)
    )
    ctx.parsed = parsed
    if parsed.limit_breach is not None:
        cause = CAUSE_BY_BREACH[parsed.limit_breach]
        waiver = find_waiver(ctx, cause)
        if waiver is not None:
            # The limits protect the parser: a released message goes on with what was read safely (its header
            # fields; no body, no attachments). The raw bytes stay in the blob store for anyone who needs more.
            return StageResult(
                verdict="released",
                reason=f"the message breaks the {parsed.limit_breach.value} limit; released by "
                f"{waiver.released_by}, it goes on with its header fields only",
                data={"defects": ", ".join(parsed.defects[:10]), "cause": cause},
            )
        return StageResult(
            verdict="quarantine",
            reason=f"the message breaks the {parsed.limit_breach.value} limit",
            data={"defects": ", ".join(parsed.defects[:10])},
            stop=Stop(InboundStatus.QUARANTINED, cause),
        )
    return StageResult(
        verdict="parsed",
        reason=f"{len(parsed.attachments)} attachment(s), {len(parsed.defects)} defect(s)",
        data={"message_id": parsed.message_id, "defects": ", ".join(parsed.defects[:10]) or None},
    )
