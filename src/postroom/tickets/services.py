"""Writes on tickets, contacts and messages (callers hold the transaction)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from postroom.core.blobs import FileBlobStore
from postroom.mail.ticketref import format_ticket_reference
from postroom.mail.values import Address, ParsedAttachment
from postroom.tenants.models import Tenant
from postroom.tickets.models import (
    Attachment,
    Contact,
    Direction,
    Message,
    Queue,
    Ticket,
    TicketSequence,
    TicketStatus,
)

REOPENING_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED})


def build_email_key(address: str) -> str:
    return address.strip().lower()


def upsert_contact(tenant: Tenant, address: Address) -> Contact:
    """The contact for this address; a display name fills an empty name but never overwrites one."""
    key = build_email_key(address.address)
    contact, created = Contact.objects.get_or_create(
        tenant=tenant, email_key=key, defaults={"email": address.address, "name": address.name[:300]}
    )
    if not created and address.name and not contact.name:
        contact.name = address.name[:300]
        contact.save(update_fields=["name"])
    return contact


_TAKE_NUMBER_SQL = (
    f"UPDATE {TicketSequence._meta.db_table} SET next_number = next_number + 1 "  # noqa: S608 - our own table name
    "WHERE tenant_id = %s RETURNING next_number - 1"
)


def allocate_ticket_number(tenant: Tenant) -> int:
    """Take the next number in one statement (UPDATE ... RETURNING: PostgreSQL, SQLite 3.35+); the row stays
    locked until the caller's transaction ends, so numbers are gap-free per committed ticket and never reused."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_NUMBER_SQL, [tenant.pk])
        row = cursor.fetchone()
    if row is not None:
        return int(row[0])
    TicketSequence.objects.get_or_create(tenant=tenant)
    return allocate_ticket_number(tenant)


def create_ticket(
    *, tenant: Tenant, queue: Queue, subject: str, requester: Contact, at: dt.datetime, prefix: str
) -> Ticket:
    number = allocate_ticket_number(tenant)
    return Ticket.objects.create(
        tenant=tenant,
        number=number,
        reference=format_ticket_reference(prefix, number),
        queue=queue,
        subject=subject[:998],
        requester=requester,
        last_message_at=at,
    )


def lock_ticket(ticket_id: int) -> Ticket:
    """Row-lock a ticket before appending to it; callers lock the ledger row first, then the ticket."""
    return Ticket.objects.select_for_update().get(pk=ticket_id)


def note_customer_activity(ticket: Ticket, at: dt.datetime) -> bool:
    """A customer wrote: reopen a waiting or finished ticket (per-queue policies arrive with issue #3)."""
    reopened = ticket.status in REOPENING_STATUSES
    if reopened:
        ticket.status = TicketStatus.OPEN
    ticket.last_message_at = max(ticket.last_message_at, at)
    ticket.save(update_fields=["status", "last_message_at", "updated_at"])
    return reopened


@dataclass(frozen=True, slots=True)
class InboundContent:
    subject: str
    text: str
    html: str | None
    headers: list[list[str]]
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    sent_at: dt.datetime
    tracking_id: str
    raw_sha256: str
    fingerprint: str
    defects: list[str]


def add_inbound_message(*, ticket: Ticket, author: Contact, content: InboundContent) -> Message:
    return Message.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        direction=Direction.INBOUND,
        author=author,
        subject=content.subject[:998],
        text=content.text,
        html=content.html,
        headers=content.headers,
        message_id=content.message_id[:998],
        in_reply_to=content.in_reply_to,
        references=content.references,
        sent_at=content.sent_at,
        tracking_id=content.tracking_id,
        raw_sha256=content.raw_sha256,
        fingerprint=content.fingerprint,
        defects=content.defects,
    )


def store_attachments(message: Message, attachments: tuple[ParsedAttachment, ...], store: FileBlobStore) -> int:
    rows = []
    for part in attachments:
        # Derived from the durable raw message, so no fsync per part (docs/adr/0003-exactly-once-ingestion.md).
        store.put(part.payload, durable=False, digest=part.sha256)
        rows.append(
            Attachment(
                tenant_id=message.tenant_id,
                message=message,
                filename=part.filename[:500],
                content_type=part.content_type[:255],
                sniffed_type=(part.sniffed_type or "")[:255],
                size=part.size,
                md5=part.md5,
                sha256=part.sha256,
                inline=part.inline,
                content_id=(part.content_id or "")[:998],
            )
        )
    Attachment.objects.bulk_create(rows)
    return len(rows)


def ensure_default_queue(tenant: Tenant) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenant, slug="inbox", defaults={"name": "Inbox", "is_default": True})
    return queue
