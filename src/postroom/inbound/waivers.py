"""Whether an admin released this message from quarantine for a cause, so the stage that checks it lets it through.

Releasing (postroom.inbound.quarantine) waives only the cause the message was quarantined for: the stage that
quarantined it records its finding in the trace and goes on, every other stage (threading, duplicate detection,
the other checks) runs as on any message. Causes accumulate: a message released for `oversized` and later for
`unknown_sender_update` is not stopped for the first cause again on its third run.
"""

from __future__ import annotations

from dataclasses import dataclass

from postroom.inbound.context import InboundContext


@dataclass(frozen=True, slots=True)
class Waiver:
    """An admin's release of one message for one cause: who, for the trace's "released by <user>"."""

    cause: str
    released_by: str


RELEASE_STAGE = "release"  # the trace entry a release appends: {"stage": "release", "data": {"by", "cause"}}


def find_waiver(ctx: InboundContext, cause: str) -> Waiver | None:
    """The waiver for `cause` when the message was released for it, else None; who released it is read from the
    release's own trace entry (the name as it was then, also for an operator at the command line)."""
    row = ctx.inbound
    if cause not in (row.released_causes or ()):
        return None
    for entry in reversed(row.trace):
        data = entry.get("data") or {}
        if entry.get("stage") == RELEASE_STAGE and data.get("cause") == cause:
            return Waiver(cause=cause, released_by=str(data.get("by") or "an admin"))
    return Waiver(cause=cause, released_by="an admin")
