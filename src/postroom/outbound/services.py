"""Agents' replies and internal notes, and automatic notices: written with the ticket change, sent by a worker.

A reply is refused (and nothing is written) when the agent has not seen what arrived since they started writing
(`ReplyConflictError`, unless they send anyway) or when it repeats an internal note's words (`NoteLeakError`).
The ticket row is locked first, then messages are added: the same fixed order as the inbound pipeline, so two
writers never interleave a ticket's timeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Final

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from postroom.core.blobs import get_blob_store
from postroom.core.dispatch import enqueue_on_commit
from postroom.mail.automation import AUTO_REPLIED
from postroom.mail.compose import (
    OutgoingAttachment,
    OutgoingMail,
    build_message,
    build_references,
    build_reply_subject,
    render_text_as_html,
)
from postroom.mail.leaks import NoteLeak, find_note_leak
from postroom.mail.subjects import normalize_subject
from postroom.mail.tokens import (
    ThreadToken,
    build_html_marker,
    build_message_id,
    build_reply_address,
    build_text_marker,
    build_token,
)
from postroom.mail.values import Address, ParsedAttachment
from postroom.outbound.attachments import (
    add_attachment_rows,
    build_outgoing_attachment,
    describe_attachments,
    find_limit_problem,
    get_attachment_limits,
    write_attachment_blobs,
)
from postroom.outbound.models import Delivery, DeliveryStatus
from postroom.outbound.signatures import build_signature_block
from postroom.tenants.keys import get_key_ring
from postroom.tickets.models import Contact, Direction, Message, Ticket, TicketStatus
from postroom.tickets.services import change_status

SEND_TASK: Final = "postroom.outbound.send"
DEFAULT_LOCAL_PART: Final = "support"


class ReplyRefusedError(Exception):
    """The reply was not written; the message says why, for the agent."""


class ReplyConflictError(ReplyRefusedError):
    def __init__(self, arrived: Sequence[Message]) -> None:
        self.arrived = list(arrived)
        super().__init__(f"{len(self.arrived)} message(s) arrived on this ticket since you opened it")


class NoteLeakError(ReplyRefusedError):
    def __init__(self, leak: NoteLeak) -> None:
        self.leak = leak
        super().__init__(f'the reply repeats internal note {leak.note_id} ("{leak.excerpt}"); remove it to send')


class NoRecipientsError(ReplyRefusedError):
    pass


class AttachmentRefusedError(ReplyRefusedError):
    """A file is larger than POSTROOM_REPLY_ATTACHMENT_MAX_BYTES, or all of them than the total limit."""


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """What the agent wrote; `to`/`cc` None means "the requester" and "the participants"."""

    text: str
    to: tuple[Address, ...] | None = None
    cc: tuple[Address, ...] | None = None
    last_seen_message_id: int | None = None
    send_anyway: bool = False
    status: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    attachments: tuple[OutgoingAttachment, ...] = ()  # files sent as MIME attachments and kept on the timeline


def parse_address_list(raw: str) -> tuple[Address, ...]:
    """Addresses typed by an agent, comma or semicolon separated; entries without an @ are dropped."""
    found = []
    for item in raw.replace(";", ",").split(","):
        name, address = parseaddr(item.strip())
        if "@" in address:
            found.append(Address(name=name, address=address))
    return tuple(found)


def _contact_address(contact: Contact) -> Address:
    return Address(name=contact.name, address=contact.email)


def find_from_address(ticket: Ticket) -> Address:
    queue = ticket.queue
    if queue.from_address:
        return Address(name=queue.from_name or queue.name, address=queue.from_address)
    domain = ticket.tenant.mail_domain or _installation_domain()
    return Address(name=queue.from_name or queue.name, address=f"{DEFAULT_LOCAL_PART}@{domain}")


def _installation_domain() -> str:
    from django.conf import settings

    return str(settings.POSTROOM.mail_domain)


def _parent_message(ticket: Ticket) -> Message | None:
    """The message a reply answers: the newest one that carries a Message-ID (inbound or ours)."""
    return (
        Message.objects.filter(ticket=ticket, direction__in=[Direction.INBOUND, Direction.OUTBOUND])
        .exclude(message_id="")
        .order_by("-sent_at", "-id")
        .first()
    )


def _check_conflict(ticket: Ticket, user: User, last_seen: int | None) -> None:
    if last_seen is None:
        return
    arrived = [
        message
        for message in Message.objects.filter(ticket=ticket, pk__gt=last_seen).order_by("sent_at", "id")
        if message.direction == Direction.INBOUND
        or (message.direction == Direction.OUTBOUND and message.author_user_id != user.pk)
    ]
    if arrived:
        raise ReplyConflictError(arrived)


def _check_note_leak(ticket: Ticket, text: str) -> None:
    notes = list(Message.objects.filter(ticket=ticket, direction=Direction.NOTE).values_list("pk", "text"))
    leak = find_note_leak(text, notes)
    if leak is not None:
        raise NoteLeakError(leak)


def _default_cc(ticket: Ticket, to: Sequence[Address]) -> tuple[Address, ...]:
    taken = {address.address.lower() for address in to}
    cc = []
    for participant in ticket.participants.select_related("contact").order_by("id"):
        address = _contact_address(participant.contact)
        if address.address.lower() not in taken:
            taken.add(address.address.lower())
            cc.append(address)
    return tuple(cc)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    body: str
    automatic: bool
    extra_headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[OutgoingAttachment, ...] = ()
    parts: tuple[ParsedAttachment, ...] = ()  # the attachments described, their blobs already written
    auto_submitted: str = AUTO_REPLIED  # with automatic: RFC 3834's auto-replied or auto-generated


def _tokenized_reply_to(sender: Address, token: str) -> Address | None:
    """`support+pr-<token>@...`; None (replies go to From) when the local part would pass RFC 5321's 64 octets."""
    try:
        return Address(sender.name, build_reply_address(sender.address, token))
    except ValueError:
        return None


def _queue_outbound(ticket: Ticket, user: User | None, outgoing: _Outgoing) -> Message:
    """Write the outbound message and its delivery row; the send task is enqueued when the transaction commits."""
    now = timezone.now()
    parent = _parent_message(ticket)
    message = Message.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        direction=Direction.OUTBOUND,
        author_user=user,
        subject=outgoing.subject[:998],
        text=outgoing.body,
        new_text=outgoing.body,
        sent_at=now,
        is_automatic=outgoing.automatic,
    )
    ring = get_key_ring(ticket.tenant)
    token = build_token(ThreadToken(ticket.pk, message.pk, ring.signing_key_id), ring.signing_key)
    sender = find_from_address(ticket)
    domain = sender.address.rpartition("@")[2] or _installation_domain()
    signature = "" if outgoing.automatic else build_signature_block(ticket, user)
    text = outgoing.body + (f"\n\n{signature}" if signature else "") + "\n\n" + build_text_marker(token)
    html = (
        render_text_as_html(outgoing.body)
        + (f'<div class="signature">{render_text_as_html(signature)}</div>' if signature else "")
        + build_html_marker(token)
    )
    mail = OutgoingMail(
        from_=sender,
        to=outgoing.to,
        cc=outgoing.cc,
        reply_to=_tokenized_reply_to(sender, token) if ticket.queue.reply_to_token else None,
        subject=outgoing.subject,
        text=text,
        html=html,
        message_id=build_message_id(token, domain),
        in_reply_to=parent.message_id if parent is not None else None,
        references=build_references(parent.references if parent else (), parent.message_id if parent else None),
        date=now,
        automatic=outgoing.automatic,
        auto_submitted=outgoing.auto_submitted if outgoing.automatic else "",
        loop_id=get_loop_id(),
        extra_headers=outgoing.extra_headers,
        attachments=outgoing.attachments,
    )
    raw = build_message(mail)
    raw_sha256 = get_blob_store().put(raw)
    message.text = text
    message.html = html
    message.message_id = mail.message_id
    message.in_reply_to = [mail.in_reply_to] if mail.in_reply_to else []
    message.references = list(mail.references)
    message.raw_sha256 = raw_sha256
    message.headers = [["To", ", ".join(a.address for a in mail.to)], ["Cc", ", ".join(a.address for a in mail.cc)]]
    if mail.automatic:  # the inbound screen tells an answer to our automatic reply by it (postroom.inbound.screens)
        message.headers.append(["Auto-Submitted", mail.auto_submitted or AUTO_REPLIED])
    message.save(update_fields=["text", "html", "message_id", "in_reply_to", "references", "raw_sha256", "headers"])
    add_attachment_rows(message, outgoing.parts)
    delivery = Delivery.objects.create(
        tenant_id=ticket.tenant_id,
        message=message,
        envelope_from=sender.address,
        recipients=list(dict.fromkeys(a.address for a in (*mail.to, *mail.cc))),
        raw_sha256=raw_sha256,
        status=DeliveryStatus.QUEUED,
        next_attempt_at=now,
    )
    enqueue_on_commit(SEND_TASK, delivery_id=delivery.pk, tenant_id=ticket.tenant_id)
    return message


def _lock(ticket_id: int) -> Ticket:
    return Ticket.objects.select_for_update().select_related("queue", "tenant", "requester").get(pk=ticket_id)


def _prepare_attachments(
    attachments: tuple[OutgoingAttachment, ...],
) -> tuple[tuple[OutgoingAttachment, ...], tuple[ParsedAttachment, ...]]:
    """Clean names and types, check the limits and write the blobs, before any lock is taken.

    Raises AttachmentRefusedError (nothing written) when a file or all of them are too large."""
    cleaned = tuple(build_outgoing_attachment(a.filename, a.content_type, a.payload) for a in attachments)
    problem = find_limit_problem([(a.filename, len(a.payload)) for a in cleaned], get_attachment_limits())
    if problem is not None:
        raise AttachmentRefusedError(problem)
    parts = describe_attachments(cleaned)
    write_attachment_blobs(parts)
    return cleaned, parts


def send_reply(ticket_id: int, user: User, draft: ReplyDraft) -> Message:
    """Write an agent's reply and queue it for sending; raise ReplyRefusedError (nothing written) when it may not go."""
    if not draft.text.strip():
        raise ReplyRefusedError("the reply is empty")
    attachments, parts = _prepare_attachments(draft.attachments)
    with transaction.atomic():
        ticket = _lock(ticket_id)
        if not draft.send_anyway:
            _check_conflict(ticket, user, draft.last_seen_message_id)
        _check_note_leak(ticket, draft.text)
        to = draft.to if draft.to is not None else (_contact_address(ticket.requester),)
        if not to:
            raise NoRecipientsError("a reply needs at least one recipient")
        cc = draft.cc if draft.cc is not None else _default_cc(ticket, to)
        subject = build_reply_subject(ticket.subject, ticket.reference, normalize_subject(ticket.subject))
        outgoing = _Outgoing(to, cc, subject, draft.text.strip(), automatic=False, attachments=attachments, parts=parts)
        message = _queue_outbound(ticket, user, outgoing)
        _after_agent_message(ticket, message.sent_at, draft.status or TicketStatus.PENDING)
        return message


def add_note(ticket_id: int, user: User, text: str, attachments: tuple[OutgoingAttachment, ...] = ()) -> Message:
    """An internal note, with any files the agent attached: on the timeline for agents, never sent."""
    if not text.strip():
        raise ReplyRefusedError("the note is empty")
    _cleaned, parts = _prepare_attachments(attachments)
    with transaction.atomic():
        ticket = _lock(ticket_id)
        note = Message.objects.create(
            tenant_id=ticket.tenant_id,
            ticket=ticket,
            direction=Direction.NOTE,
            author_user=user,
            subject=ticket.subject[:998],
            text=text.strip(),
            new_text=text.strip(),
            sent_at=timezone.now(),
        )
        add_attachment_rows(note, parts)
        return note


def send_notice(ticket: Ticket, to: Address, subject: str, body: str, *, auto_submitted: str = AUTO_REPLIED) -> Message:
    """An automatic message, RFC 3834 marked: auto-replied when it answers a message ("this ticket is closed"),
    auto-generated when it answers none (a mailbox alert); caller's transaction."""
    outgoing = _Outgoing((to,), (), subject, body, automatic=True, auto_submitted=auto_submitted)
    return _queue_outbound(ticket, None, outgoing)


def get_loop_id() -> str:
    """The value of our loop header (postroom.mail.automation.LOOP_HEADER) on everything this installation sends."""
    from django.conf import settings

    return str(settings.POSTROOM.installation_id)


def _after_agent_message(ticket: Ticket, at: dt.datetime, status: str) -> None:
    change_status(ticket, status, at)
    ticket.last_message_at = max(ticket.last_message_at, at)
    ticket.save(update_fields=["status", "closed_at", "last_message_at", "updated_at"])
