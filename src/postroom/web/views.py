"""Console pages: queues and tickets, a ticket's timeline, the decision trace, raw headers, the inbound log."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from postroom.accounts.permissions import (
    TicketAccess,
    can_use_console,
    can_view_ticket,
    can_view_unfiled_mail,
    get_ticket_access,
    scope_tickets,
)
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.outbound.services import (
    ReplyConflictError,
    ReplyDraft,
    ReplyRefusedError,
    add_note,
    parse_address_list,
    send_reply,
)
from postroom.tickets.attachments import AttachmentUnavailableError, get_attachment_bytes
from postroom.tickets.models import Attachment, Message, Ticket, TicketStatus
from postroom.tickets.services import set_ticket_status
from postroom.web import queries

PAGE_SIZE = 50

View = Callable[..., HttpResponse]


def console_view(view: View) -> View:
    """Signed in (else to the sign-in page) with a console role (else 403: requesters use the portal)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not can_use_console(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _get_ticket(request: HttpRequest, reference: str) -> Ticket:
    """The ticket if the user may see it; 404 both when it does not exist and when it is in a foreign queue."""
    tickets = scope_tickets(Ticket.objects.select_related("queue", "requester"), request.user)
    return get_object_or_404(tickets, reference=reference)


@console_view
def ticket_list(request: HttpRequest) -> HttpResponse:
    queue = None
    if slug := request.GET.get("queue"):
        queue = get_object_or_404(queries.list_visible_queues(request.user), slug=slug)
    status = request.GET.get("status", "open")
    if status not in {"open", "", *TicketStatus.values}:
        status = "open"
    tickets = queries.list_tickets(request.user, queue, status or None)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "postroom/ticket_list.html",
        {
            "queues": queries.list_queues_with_counts(request.user),
            "queue": queue,
            "status": status,
            "statuses": TicketStatus.choices,
            "page": page,
        },
    )


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    arrived: list[Message] | None = None,
    status: int = 200,
) -> HttpResponse:
    timeline = list(queries.list_timeline(ticket))
    defaults = {"to": ticket.requester.email, "cc": queries.default_cc(ticket), "text": "", "kind": "reply"}
    return render(
        request,
        "postroom/ticket_detail.html",
        {
            "ticket": ticket,
            "timeline": timeline,
            "last_seen": max((message.pk for message in timeline), default=0),
            "form": {**defaults, **(form or {})},
            "error": error,
            "arrived": arrived or [],
            "statuses": TicketStatus.choices,
            "can_act": get_ticket_access(request.user, ticket) is TicketAccess.ACT,
            # A late reply's predecessor is linked only when this user may open it (its number is no secret
            # worth a 404, but a link that always 404s is noise).
            "linked_from": ticket.linked_from
            if ticket.linked_from is not None
            and get_ticket_access(request.user, ticket.linked_from) is not TicketAccess.HIDDEN
            else None,
        },
        status=status,
    )


def _get_ticket_to_act_on(request: HttpRequest, reference: str) -> Ticket:
    """The ticket if the user may act on it; 403 for view-only users (auditors), 404 when not visible."""
    ticket = _get_ticket(request, reference)
    if get_ticket_access(request.user, ticket) is not TicketAccess.ACT:
        raise PermissionDenied
    return ticket


@console_view
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_ticket(request, _get_ticket(request, reference))


@require_POST
@console_view
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    """Send a reply or add a note; a refusal re-shows the form with the agent's text and what to do."""
    ticket = _get_ticket_to_act_on(request, reference)
    form = {key: request.POST.get(key, "") for key in ("to", "cc", "text", "kind", "status")}
    try:
        if form["kind"] == "note":
            add_note(ticket.pk, request.user, form["text"])  # type: ignore[arg-type]
        else:
            last_seen = request.POST.get("last_seen", "")
            draft = ReplyDraft(
                text=form["text"],
                to=parse_address_list(form["to"]),
                cc=parse_address_list(form["cc"]),
                last_seen_message_id=int(last_seen) if last_seen.isdigit() else None,
                send_anyway=request.POST.get("send_anyway") == "1",
                status=form["status"] if form["status"] in TicketStatus.values else None,
            )
            send_reply(ticket.pk, request.user, draft)  # type: ignore[arg-type]
    except ReplyConflictError as conflict:
        return _render_ticket(request, ticket, form=form, error=str(conflict), arrived=conflict.arrived, status=409)
    except ReplyRefusedError as refusal:
        return _render_ticket(request, ticket, form=form, error=str(refusal), status=422)
    return redirect("ticket-detail", reference=ticket.reference)


@require_POST
@console_view
def ticket_status(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _get_ticket_to_act_on(request, reference)
    status = request.POST.get("status", "")
    if status not in TicketStatus.values:
        return _render_ticket(request, ticket, error=f"unknown status {status!r}", status=422)
    set_ticket_status(ticket.pk, status, timezone.now())
    return redirect("ticket-detail", reference=ticket.reference)


@console_view
def message_headers(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(Message.objects.select_related("ticket"), pk=pk)
    if not can_view_ticket(request.user, message.ticket):
        raise Http404
    return render(request, "postroom/message_headers.html", {"message": message})


@console_view
def inbound_trace(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The decision trace; only for users who see the ticket it became (mail without a ticket: admins, auditors)."""
    inbound = get_object_or_404(
        InboundMessage.objects.select_related("message__ticket__queue", "mailbox"), tracking_id=tracking_id
    )
    message = inbound.message
    if not (can_view_ticket(request.user, message.ticket) if message else can_view_unfiled_mail(request.user)):
        raise Http404
    return render(request, "postroom/inbound_trace.html", {"inbound": inbound})


@console_view
def inbound_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in {"", *InboundStatus.values}:
        status = ""
    page = Paginator(queries.list_inbound(request.user, status or None), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "postroom/inbound_list.html",
        {"page": page, "status": status, "statuses": InboundStatus.choices},
    )


def problem_page(request: HttpRequest, exception: Exception | None = None, *, status: int = 404) -> HttpResponse:
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 500: "Something went wrong on our side"}
    return render(request, "postroom/problem.html", {"status": status, "title": titles[status]}, status=status)


# Types a browser may display inline without running anything; everything else is served as opaque bytes.
_SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"})


@console_view
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    """An attachment as a download: never rendered by the browser (attachment disposition, nosniff, sandbox CSP)."""
    attachment = get_object_or_404(Attachment.objects.select_related("message"), pk=pk)
    if not scope_tickets(Ticket.objects.all(), request.user).filter(pk=attachment.message.ticket_id).exists():
        raise Http404("no such attachment")  # the same answer as for one that does not exist
    try:
        payload = get_attachment_bytes(attachment)
    except AttachmentUnavailableError as e:
        raise Http404(str(e)) from e
    declared = attachment.content_type.lower()
    response = HttpResponse(payload, content_type=declared if declared in _SAFE_TYPES else "application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Content-Length"] = str(len(payload))
    return response
