"""What one screen (a check of the screen stage) reports: a note for the trace, or a hold for a quarantine cause."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from postroom.inbound.context import InboundContext

DataValue = str | int | None


@dataclass(frozen=True, slots=True)
class Finding:
    """One screen's verdict on a message.

    `hold` names the QuarantineCause that keeps the message out of the ticket system, or is empty when the screen
    only notes something (an allow-listed sender, a spam score under the threshold). An admin's release waives the
    cause, so the same screen lets the message through on the rerun (postroom.inbound.waivers).
    `drop` (with a hold) asks for the message to be quarantined and purged at once: a spam score over the mailbox's
    drop threshold. The raw bytes stay in the ledger until the purge, so nothing is lost by mistake.
    """

    reason: str
    data: Mapping[str, DataValue] = field(default_factory=dict)
    hold: str = ""
    drop: bool = False


@dataclass(frozen=True, slots=True)
class Screen:
    name: str
    check: Callable[[InboundContext], Finding | None]


NO_FINDING: Final = None
