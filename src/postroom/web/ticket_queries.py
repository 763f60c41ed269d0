"""Reads of the ticket page: the visible ticket, its timeline, who it may be assigned to, where it may move."""

from __future__ import annotations

from typing import Any, Final

from django.db.models import QuerySet
from django.http import Http404

from postroom.accounts.models import Role
from postroom.accounts.permissions import User, get_access, scope_tickets
from postroom.tickets.models import Attachment, Message, Queue, Ticket

# Inline parts the formatted view shows as images; anything else a cid: reference names stays unresolved.
INLINE_IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def get_visible_ticket(user: User, reference: str) -> Ticket:
    """The ticket if the user may see it; Http404 both when it does not exist and when it is in a foreign queue."""
    tickets = scope_tickets(Ticket.objects.select_related("queue", "requester", "assignee"), user)
    ticket = tickets.filter(reference=reference).first()
    if ticket is None:
        raise Http404("no such ticket")
    return ticket


def get_visible_message(user: User, pk: int) -> Message:
    """A message of a ticket the user may see; Http404 otherwise (the same answer as for one that does not exist)."""
    visible = scope_tickets(Ticket.objects.all(), user).values("pk")
    message = Message.objects.select_related("ticket").filter(pk=pk, ticket_id__in=visible).first()
    if message is None:
        raise Http404("no such message")
    return message


def list_timeline(ticket: Ticket) -> QuerySet[Message]:
    """Oldest first, as a conversation reads; attachments and the outbox's log prefetched (no N+1)."""
    return (
        Message.objects.filter(ticket=ticket)
        .select_related("author", "author_user", "inbound", "delivery")
        .prefetch_related("attachments", "delivery__events")
        .order_by("sent_at", "id")
    )


def list_participants(ticket: Ticket) -> list[Any]:
    return [participant.contact for participant in ticket.participants.select_related("contact").order_by("id")]


def list_target_queues(user: User, ticket: Ticket) -> QuerySet[Queue]:
    """Where this user may move the ticket (the rule of accounts.change_rules.check_queue_move): any queue of its
    tenant for admins, else the queues they belong to."""
    queues = Queue.objects.filter(tenant_id=ticket.tenant_id).order_by("name")
    access = get_access(user)
    if access.role == Role.ADMIN:
        return queues
    return queues.filter(pk__in=sorted(access.queue_ids))


def find_inline_images(message: Message) -> list[Attachment]:
    """The message's parts a `cid:` image may show: images with a Content-ID."""
    return [
        attachment
        for attachment in message.attachments.exclude(content_id="").order_by("id")
        if attachment.content_type.lower() in INLINE_IMAGE_TYPES
    ]
