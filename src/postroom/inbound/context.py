"""The state one message carries through the pipeline, and what a stage returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from postroom.core.blobs import FileBlobStore
from postroom.inbound.models import InboundMessage
from postroom.mail.acknowledgements import AckVerdict
from postroom.mail.auth import SenderAuthentication
from postroom.mail.automation import AutomationVerdict, RateWindow
from postroom.mail.forwards import ForwardInfo
from postroom.mail.quotes import ReplyParts
from postroom.mail.spam import ScannerSettings
from postroom.mail.threads import ThreadSignals
from postroom.mail.values import Address, ParsedMessage
from postroom.mailboxes.models import Mailbox
from postroom.tenants.models import Tenant
from postroom.tickets.models import Message, Queue, Ticket


@dataclass(frozen=True, slots=True)
class Stop:
    """End the pipeline here with this ledger status and machine-readable cause."""

    status: str
    cause: str = ""
    drop: bool = False  # quarantined and purged at once (a spam score over the drop threshold)


@dataclass(frozen=True, slots=True)
class StageResult:
    verdict: str
    reason: str
    data: Mapping[str, str | int | None] = field(default_factory=dict)
    stop: Stop | None = None


@dataclass(frozen=True, slots=True)
class MessageReading:
    """What the analyse stage read from the message: its new content, forward, automatic-ness, gratitude."""

    reply: ReplyParts
    forward: ForwardInfo | None
    automatic: AutomationVerdict  # postroom.mail.automation: kind, every reason, whether we may answer
    acknowledgement: AckVerdict


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Installation-wide knobs a stage needs; passed in, never read from settings inside a stage."""

    max_message_bytes: int
    ticket_prefix: str
    trusted_authserv_ids: tuple[str, ...] = ()  # POSTROOM_TRUSTED_AUTHSERV_IDS (sender authentication)
    dns_timeout_seconds: float = 3.0  # POSTROOM_DNS_TIMEOUT_SECONDS, per lookup
    sender_rate_limit: RateWindow | None = None  # POSTROOM_SENDER_RATE_LIMIT (the automation screen)
    installation_id: str = ""  # our loop header's value (postroom.mail.automation.LOOP_HEADER)
    own_message_id_domains: tuple[str, ...] = ()  # POSTROOM_OWN_MESSAGE_ID_DOMAINS
    spam: ScannerSettings = field(default_factory=ScannerSettings)  # POSTROOM_SPAMD_URL, POSTROOM_SPAM_*...


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
    # Set by the analyse stage (pure readings of the message):
    reading: MessageReading | None = None
    # Set by the thread and admit stages (what the follow-up does to the ticket):
    signals: ThreadSignals | None = None  # every threading signal the message carries (persist stores some)
    answered_message_id: int | None = None  # our stored message this one answers, when a token or header says
    as_note: bool = False  # store as an internal note (unknown sender, or a reply to an internal notification)
    reopen: bool = True  # whether a customer message may reopen a waiting or finished ticket
    linked_from: Ticket | None = None  # a new ticket opened for a late reply to this finished one
    participants: tuple[Address, ...] = ()
    # Set by the screen stage when the mailbox's sender_auth mode is not off (persist stores flag and evidence):
    sender_auth: SenderAuthentication | None = None
    # Set by the sender_lists screen: the sender is allow-listed (skips the spam score), and may skip authentication.
    allow_listed: bool = False
    skip_auth: bool = False
    # Set by the spam screen: the scanner's score, and whether it reached the tag threshold (persist stores both).
    spam_score: float | None = None
    probable_spam: bool = False
    # Set by the attachment_policy screen when it strips blocked parts: their index in parsed.attachments -> the note
    # that replaces each in the ticket (persist skips them; the raw message keeps them).
    stripped_attachments: dict[int, str] = field(default_factory=dict)
    # Set by the automation screen (the analyse stage reads it): what kind of automatic mail this is, and why.
    automation: AutomationVerdict | None = None

    def require_reading(self) -> MessageReading:
        if self.reading is None:
            raise RuntimeError("stage ran before the analyse stage")
        return self.reading

    def require_parsed(self) -> ParsedMessage:
        if self.parsed is None:
            raise RuntimeError("stage ran before the parse stage")
        return self.parsed
