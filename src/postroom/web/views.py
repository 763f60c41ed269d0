"""Console basics: `console_view`, the decision trace, the inbound log, error pages.

The ticket list lives in ticket_list_views.py, a ticket's page in ticket_views.py, a message's own pages
(headers, formatted view, attachments) in message_views.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from postroom.accounts.permissions import (
    can_use_console,
    can_view_ticket,
    can_view_unfiled_mail,
)
from postroom.inbound.models import InboundMessage, InboundStatus
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
