"""Console pages: queues and tickets, a ticket's timeline, the decision trace, raw headers, the inbound log."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.tickets.models import Message, Queue, Ticket, TicketStatus
from postroom.web import queries

PAGE_SIZE = 50


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    queue = None
    if slug := request.GET.get("queue"):
        queue = get_object_or_404(Queue, slug=slug)
    status = request.GET.get("status", "open")
    if status not in {"open", "", *TicketStatus.values}:
        status = "open"
    page = Paginator(queries.list_tickets(queue, status or None), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "postroom/ticket_list.html",
        {
            "queues": queries.list_queues_with_counts(),
            "queue": queue,
            "status": status,
            "statuses": TicketStatus.choices,
            "page": page,
        },
    )


@login_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = get_object_or_404(Ticket.objects.select_related("queue", "requester"), reference=reference)
    return render(
        request,
        "postroom/ticket_detail.html",
        {"ticket": ticket, "timeline": queries.list_timeline(ticket)},
    )


@login_required
def message_headers(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(Message.objects.select_related("ticket"), pk=pk)
    return render(request, "postroom/message_headers.html", {"message": message})


@login_required
def inbound_trace(request: HttpRequest, tracking_id: str) -> HttpResponse:
    inbound = get_object_or_404(
        InboundMessage.objects.select_related("message__ticket__queue", "mailbox"), tracking_id=tracking_id
    )
    return render(request, "postroom/inbound_trace.html", {"inbound": inbound})


@login_required
def inbound_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in {"", *InboundStatus.values}:
        status = ""
    page = Paginator(queries.list_inbound(status or None), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "postroom/inbound_list.html",
        {"page": page, "status": status, "statuses": InboundStatus.choices},
    )


def problem_page(request: HttpRequest, exception: Exception | None = None, *, status: int = 404) -> HttpResponse:
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 500: "Something went wrong on our side"}
    return render(request, "postroom/problem.html", {"status": status, "title": titles[status]}, status=status)
