"""Reads the console pages need, shaped to avoid N+1 queries."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from postroom.inbound.models import InboundMessage
from postroom.tickets.models import Message, Queue, Ticket, TicketStatus

OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


def list_queues_with_counts() -> QuerySet[Queue]:
    return Queue.objects.annotate(open_count=Count("tickets", filter=Q(tickets__status__in=OPEN_STATUSES))).order_by(
        "name"
    )


def list_tickets(queue: Queue | None, status: str | None) -> QuerySet[Ticket]:
    tickets = Ticket.objects.select_related("queue", "requester")
    if queue is not None:
        tickets = tickets.filter(queue=queue)
    if status == "open":
        tickets = tickets.filter(status__in=OPEN_STATUSES)
    elif status:
        tickets = tickets.filter(status=status)
    return tickets.annotate(message_count=Count("messages")).order_by("-last_message_at", "-id")


def list_timeline(ticket: Ticket) -> QuerySet[Message]:
    return (
        Message.objects.filter(ticket=ticket)
        .select_related("author", "author_user", "inbound", "delivery")
        .prefetch_related("attachments", "delivery__events")
        .order_by("sent_at", "id")
    )


def default_cc(ticket: Ticket) -> str:
    """The participants, as the reply form's Cc field shows them."""
    return ", ".join(
        ticket.participants.select_related("contact").order_by("id").values_list("contact__email", flat=True)
    )


def list_inbound(status: str | None) -> QuerySet[InboundMessage]:
    rows = InboundMessage.objects.select_related("message__ticket", "mailbox")
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-received_at", "-id")
