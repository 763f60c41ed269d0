"""The state one message carries through the pipeline, and what a stage returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from postroom.core.blobs import FileBlobStore
from postroom.inbound.models import InboundMessage
from postroom.mail.values import Address, ParsedMessage
from postroom.mailboxes.models import Mailbox
from postroom.tenants.models import Tenant
from postroom.tickets.models import Message, Queue, Ticket


@dataclass(frozen=True, slots=True)
class Stop:
    """End the pipeline here with this ledger status and machine-readable cause."""

    status: str
    cause: str = ""


@dataclass(frozen=True, slots=True)
class StageResult:
    verdict: str
    reason: str
    data: Mapping[str, str | int | None] = field(default_factory=dict)
    stop: Stop | None = None


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Installation-wide knobs a stage needs; passed in, never read from settings inside a stage."""

    max_message_bytes: int
    ticket_prefix: str


@dataclass(slots=True)
class InboundContext:
    inbound: InboundMessage
    tenant: Tenant
    mailbox: Mailbox | None
    raw: bytes
    store: FileBlobStore
    options: PipelineOptions
    suspect_duplicate: bool = False  # set on the retry after the fingerprint's unique index refused the message
    parsed: ParsedMessage | None = None
    requester: Address | None = None
    queue: Queue | None = None
    ticket: Ticket | None = None
    message: Message | None = None
    duplicate_of: InboundMessage | None = None

    def require_parsed(self) -> ParsedMessage:
        if self.parsed is None:
            raise RuntimeError("stage ran before the parse stage")
        return self.parsed
