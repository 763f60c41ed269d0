"""A requester's reply from the portal: added to the ticket as an inbound message, as if it had come by mail.

It follows the same rules as an emailed reply from the requester (postroom.inbound.stages.admit and persist): it
reopens a pending, resolved or closed ticket, and on a resolved or closed one the queue's late-reply policy applies
(reopen; a new ticket linked to the old one, at once or after N days; or refused). Files are written to the blob
store before any row lock, then the ticket row is locked and the message, its attachments and the `PortalReply`
marker are written in one transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from django.conf import settings
from django.db import transaction

from postroom.core.blobs import get_blob_store
from postroom.mail.compose import OutgoingAttachment
from postroom.mail.values import ParsedAttachment
from postroom.outbound.attachments import (
    AttachmentLimits,
    build_outgoing_attachment,
    describe_attachments,
    find_limit_problem,
    write_attachment_blobs,
)
from postroom.portal.conf import get_portal_settings
from postroom.portal.models import PortalReply
from postroom.tickets.models import ClosedReplyPolicy, Contact, Message, Ticket
from postroom.tickets.services import (
    FINISHED_STATUSES,
    InboundContent,
    add_inbound_message,
    create_ticket,
    lock_ticket,
    note_customer_activity,
    store_attachments,
)

log = logging.getLogger(__name__)

MAX_FILES: Final = 10  # files per reply; more is unusual for a customer and only costs memory
MAX_TEXT_CHARS: Final = 100_000  # a long mail is a few thousand characters; this only stops abuse
SOURCE_HEADER: Final = ("X-Postroom-Source", "portal")  # on the raw-headers page: where the message came from


class PortalReplyRefusedError(Exception):
    """Nothing was written; the message says why, for the requester."""


class TicketClosedError(PortalReplyRefusedError):
    """The ticket takes no replies (merged, or closed in a queue that refuses late replies): a 409."""


class ReplyVerdict(enum.Enum):
    APPEND = "append"  # add to the ticket (reopening it unless it is new or open)
    NEW_LINKED = "new_linked"  # open a new ticket linked to this one
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class ReplyDecision:
    verdict: ReplyVerdict
    reason: str  # for the requester


def decide_portal_reply(ticket: Ticket, now: dt.datetime) -> ReplyDecision:
    """What a reply by the requester does to this ticket now (reads the ticket, its queue and merge target only)."""
    if ticket.merged_into_id is not None:
        reference = ticket.merged_into.reference if ticket.merged_into else "another request"
        return ReplyDecision(ReplyVerdict.REFUSED, f"This request was merged into {reference}; please reply there.")
    if ticket.status not in FINISHED_STATUSES:
        return ReplyDecision(ReplyVerdict.APPEND, "Your reply is added to this request.")
    queue = ticket.queue
    policy = queue.closed_reply_policy
    if policy == ClosedReplyPolicy.NEW_AFTER_DAYS:
        closed_at = ticket.closed_at or ticket.last_message_at
        if now - closed_at <= dt.timedelta(days=queue.reopen_within_days):
            policy = ClosedReplyPolicy.REOPEN
        else:
            policy = ClosedReplyPolicy.NEW_LINKED
    if policy == ClosedReplyPolicy.NEW_LINKED:
        return ReplyDecision(ReplyVerdict.NEW_LINKED, "This request is closed; your reply opens a new one.")
    if policy == ClosedReplyPolicy.REJECT:
        return ReplyDecision(
            ReplyVerdict.REFUSED, "This request is closed. If you still need help, please write us a new message."
        )
    return ReplyDecision(ReplyVerdict.APPEND, "Your reply reopens this request.")


@dataclass(frozen=True, slots=True)
class PortalReplyResult:
    ticket: Ticket  # where the reply went: the ticket, or the new one linked to it
    message: Message
    reopened: bool


def find_upload_problem(files: Sequence[tuple[str, int]]) -> str | None:
    """Why these files (name, size) may not go with one reply, for the requester; None when they may.

    Sizes, not bytes: the view asks before it reads an upload into memory."""
    if len(files) > MAX_FILES:
        return f"Please attach at most {MAX_FILES} files."
    conf = get_portal_settings()
    problem = find_limit_problem(
        files, AttachmentLimits(per_file=conf.upload_max_bytes, total=conf.uploads_max_total_bytes)
    )
    return None if problem is None else problem[0].upper() + problem[1:] + "."


def _prepare_files(files: Sequence[OutgoingAttachment]) -> tuple[ParsedAttachment, ...]:
    """Clean names and types, check the limits, write the blobs (durably: there is no raw message behind them)."""
    problem = find_upload_problem([(f.filename, len(f.payload)) for f in files])
    if problem is not None:
        raise PortalReplyRefusedError(problem)
    cleaned = [build_outgoing_attachment(f.filename, f.content_type, f.payload) for f in files]
    parts = describe_attachments(cleaned)
    write_attachment_blobs(parts)
    return parts


def _content(ticket: Ticket, contact: Contact, text: str, now: dt.datetime) -> InboundContent:
    # No Message-ID or fingerprint: the message was written here, not received (like agents' notes); agents'
    # replies thread to the newest mailed message, which the requester's mail client knows.
    return InboundContent(
        subject=f"Re: {ticket.subject} (via the portal)".strip(),
        text=text,
        html=None,
        headers=[list(SOURCE_HEADER), ["From", contact.email]],
        message_id="",
        in_reply_to=[],
        references=[],
        sent_at=now,
        tracking_id="",
        raw_sha256="",
        fingerprint="",
        defects=[],
        new_text=text,
    )


def add_portal_reply(
    ticket_id: int, contact: Contact, text: str, files: Sequence[OutgoingAttachment], now: dt.datetime
) -> PortalReplyResult:
    """Add the requester's reply; PortalReplyRefusedError (nothing written) when it may not be added."""
    text = text.strip()
    if not text:
        raise PortalReplyRefusedError("Please write a message.")
    if len(text) > MAX_TEXT_CHARS:
        raise PortalReplyRefusedError(f"The message is too long (at most {MAX_TEXT_CHARS:,} characters).")
    parts = _prepare_files(files)
    with transaction.atomic():
        ticket = lock_ticket(ticket_id)
        decision = decide_portal_reply(ticket, now)
        reopened = False
        if decision.verdict is ReplyVerdict.REFUSED:
            raise TicketClosedError(decision.reason)
        if decision.verdict is ReplyVerdict.NEW_LINKED:
            ticket = create_ticket(
                tenant=ticket.tenant,
                queue=ticket.queue,
                subject=ticket.subject,
                requester=contact,
                at=now,
                prefix=settings.POSTROOM.ticket_prefix,
                linked_from=ticket,
            )
        else:
            reopened = note_customer_activity(ticket, now, reopen=True)
        message = add_inbound_message(ticket=ticket, author=contact, content=_content(ticket, contact, text, now))
        store_attachments(message, parts, get_blob_store(), blobs_written=True)
        PortalReply.objects.create(tenant_id=ticket.tenant_id, message=message, contact=contact)
    log.info(
        "portal reply %s on %s (%s%s)",
        message.pk,
        ticket.reference,
        decision.verdict.value,
        ", reopened" if reopened else "",
    )
    return PortalReplyResult(ticket=ticket, message=message, reopened=reopened)
