"""Writes on tickets, contacts and messages (callers hold the transaction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from postroom.core.blobs import FileBlobStore
from postroom.core.db import fetch_row, insert_row, insert_rows, update_row
from postroom.mail.ticketref import format_ticket_reference
from postroom.mail.values import Address, ParsedAttachment
from postroom.tenants.models import Tenant
from postroom.tickets.models import (
    Attachment,
    Contact,
    Direction,
    ExternalReference,
    Message,
    Participant,
    ParticipantRole,
    Queue,
    Ticket,
    TicketSequence,
    TicketStatus,
)

REOPENING_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED})
FINISHED_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


def change_status(ticket: Ticket, status: str, at: dt.datetime) -> None:
    """Set the status (not saved); resolving or closing stamps `closed_at`, which the late-reply policy counts from."""
    if status not in TicketStatus.values:
        raise ValueError(f"unknown status {status!r}")
    ticket.status = status
    if status in FINISHED_STATUSES:
        ticket.closed_at = at


def set_ticket_status(ticket_id: int, status: str, at: dt.datetime) -> Ticket:
    """An agent changes the status (in its own transaction, under the ticket's row lock)."""
    with transaction.atomic():
        ticket = lock_ticket(ticket_id)
        change_status(ticket, status, at)
        update_row(ticket, ["status", "closed_at", "updated_at"])
        return ticket


def build_email_key(address: str) -> str:
    return address.strip().lower()


_CONTACT_BY_KEY = "tenant_id = %s AND email_key = %s"  # the unique constraint contact_unique_email


def upsert_contact(tenant: Tenant, address: Address) -> Contact:
    """The contact for this address; a display name fills an empty name but never overwrites one.

    One SELECT for a known sender; a new one is inserted with ON CONFLICT DO NOTHING (no savepoint), and a
    concurrent insert of the same address is read back after it committed."""
    key = build_email_key(address.address)
    contact = fetch_row(Contact, _CONTACT_BY_KEY, [tenant.pk, key])
    if contact is None:
        contact = Contact(tenant=tenant, email_key=key, email=address.address, name=address.name[:300])
        if insert_row(contact, ignore_conflicts=True):
            return contact
        contact = fetch_row(Contact, _CONTACT_BY_KEY, [tenant.pk, key])
        if contact is None:  # pragma: no cover - the conflicting row was committed, so it is visible now
            raise RuntimeError(f"contact {key!r} conflicted but cannot be read")
    if address.name and not contact.name:
        contact.name = address.name[:300]
        update_row(contact, ["name"])
    return contact


def upsert_contacts(tenant: Tenant, addresses: Sequence[Address], *, writer: Address | None = None) -> list[Contact]:
    """The contacts for these addresses, in the same order; one per address key.

    Written in one order (sorted by key) in every transaction: a new contact's row is locked until its inserter
    commits, and two workers inserting the same two new contacts in opposite orders would deadlock.
    `writer` wrote the message: mail from an address proves it works, so its undeliverable mark (a hard bounce,
    issue #6) is cleared."""
    by_key: dict[str, Contact] = {}
    writer_key = build_email_key(writer.address) if writer is not None else None
    for address in sorted(addresses, key=lambda a: build_email_key(a.address)):
        key = build_email_key(address.address)
        if key not in by_key:
            by_key[key] = upsert_contact(tenant, address)
            if key == writer_key and by_key[key].undeliverable_until is not None:
                by_key[key].undeliverable_until, by_key[key].undeliverable_reason = None, ""
                update_row(by_key[key], ["undeliverable_until", "undeliverable_reason"])
    return [by_key[build_email_key(address.address)] for address in addresses]


_TAKE_NUMBER_SQL = (
    f"UPDATE {TicketSequence._meta.db_table} SET next_number = next_number + 1 "  # noqa: S608 - our own table name
    "WHERE tenant_id = %s RETURNING next_number - 1"
)


def allocate_ticket_number(tenant: Tenant) -> int:
    """The tenant's next ticket number, unique and increasing.

    PostgreSQL: from the tenant's sequence (migration tickets 0003), so no lock is held until the commit and
    concurrent workers do not queue behind each other; a rolled-back ticket leaves a gap. SQLite serialises writers
    anyway: one UPDATE ... RETURNING on the counter row, gap-free."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT postroom_next_ticket_number(%s)", [tenant.pk])
        else:
            cursor.execute(_TAKE_NUMBER_SQL, [tenant.pk])
        row = cursor.fetchone()
    if row is not None:
        return int(row[0])
    TicketSequence.objects.get_or_create(tenant=tenant)
    return allocate_ticket_number(tenant)


def create_ticket(
    *,
    tenant: Tenant,
    queue: Queue,
    subject: str,
    requester: Contact,
    at: dt.datetime,
    prefix: str,
    linked_from: Ticket | None = None,
) -> Ticket:
    """A new ticket with the tenant's next number."""
    number = allocate_ticket_number(tenant)
    ticket = Ticket(
        tenant=tenant,
        number=number,
        reference=format_ticket_reference(prefix, number),
        queue=queue,
        subject=subject[:998],
        requester=requester,
        last_message_at=at,
        linked_from=linked_from,
    )
    insert_row(ticket)
    return ticket


def lock_ticket(ticket_id: int) -> Ticket:
    """Row-lock a ticket before appending to it; callers lock the ledger row first, then the ticket."""
    ticket = fetch_row(Ticket, "id = %s", [ticket_id], for_update=True)
    if ticket is None:
        raise Ticket.DoesNotExist(f"no ticket with id {ticket_id}")
    return ticket


def note_customer_activity(ticket: Ticket, at: dt.datetime, *, reopen: bool = True) -> bool:
    """A customer wrote: reopen a waiting or finished ticket unless told not to (the admit stage decides)."""
    reopened = reopen and ticket.status in REOPENING_STATUSES
    if reopened:
        ticket.status = TicketStatus.OPEN
    ticket.last_message_at = max(ticket.last_message_at, at)
    update_row(ticket, ["status", "last_message_at", "updated_at"])
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
    new_text: str = ""
    quoted_text: str = ""
    signature_text: str = ""
    thread_index: str = ""
    forwarded: dict[str, str | None] | None = None
    is_automatic: bool = False
    internal: bool = False  # stored as an internal note (a stranger's follow-up, a reply to a notification)
    possible_spoof: bool = False  # sender authentication's flag (postroom.inbound.sender_auth)
    probable_spam: bool = False  # the spam screen's tag (postroom.inbound.screens.spam)
    spam_score: float | None = None
    auth_evidence: tuple[str, ...] = ()  # its evidence lines, shown to agents
    safe_html: str | None = None  # the sanitised copy of `html` stored beside it (postroom.mail.sanitise)


def add_inbound_message(*, ticket: Ticket, author: Contact, content: InboundContent) -> Message:
    message = Message(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        direction=Direction.NOTE if content.internal else Direction.INBOUND,
        author=author,
        subject=content.subject[:998],
        text=content.text,
        html=content.html,
        safe_html=content.safe_html,
        headers=content.headers,
        message_id=content.message_id[:998],
        in_reply_to=content.in_reply_to,
        references=content.references,
        sent_at=content.sent_at,
        tracking_id=content.tracking_id,
        raw_sha256=content.raw_sha256,
        fingerprint=content.fingerprint,
        defects=content.defects,
        new_text=content.new_text,
        quoted_text=content.quoted_text,
        signature_text=content.signature_text,
        thread_index=content.thread_index[:64],
        forwarded=content.forwarded,
        is_automatic=content.is_automatic,
        possible_spoof=content.possible_spoof,
        probable_spam=content.probable_spam,
        spam_score=content.spam_score,
        auth_evidence=list(content.auth_evidence),
    )
    insert_row(message)
    return message


def store_attachment_blobs(attachments: tuple[ParsedAttachment, ...], store: FileBlobStore) -> None:
    """Write the parts' bytes; call it before locking anything (file writes, and the blobs are idempotent)."""
    for part in attachments:
        # Derived from the durable raw message, so no fsync per part (docs/adr/0003-exactly-once-ingestion.md).
        store.put(part.payload, durable=False, digest=part.sha256)


def store_attachments(
    message: Message, attachments: tuple[ParsedAttachment, ...], store: FileBlobStore, *, blobs_written: bool = False
) -> int:
    """The attachment rows of a message in one INSERT, and their blobs unless `store_attachment_blobs` wrote them."""
    if not blobs_written:
        store_attachment_blobs(attachments, store)
    rows = []
    for part in attachments:
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
    insert_rows(rows)
    return len(rows)


def ensure_default_queue(tenant: Tenant) -> Queue:
    queue, _ = Queue.objects.get_or_create(tenant=tenant, slug="inbox", defaults={"name": "Inbox", "is_default": True})
    return queue


def add_participants(ticket: Ticket, people: Sequence[Contact]) -> int:
    """Add people to the conversation (copied on replies, allowed to follow up); known ones are skipped."""
    added = 0
    for contact in people:
        if contact.pk == ticket.requester_id:
            continue
        row = Participant(tenant_id=ticket.tenant_id, ticket=ticket, contact=contact, role=ParticipantRole.CC)
        added += insert_row(row, ignore_conflicts=True)
    return added


def record_external_references(ticket: Ticket, references: Sequence[str]) -> None:
    """Remember other systems' numbers seen in this ticket's subjects, so later mail carrying them threads here."""
    for reference in references:
        insert_row(
            ExternalReference(tenant_id=ticket.tenant_id, ticket=ticket, reference=reference[:200]),
            ignore_conflicts=True,
        )
