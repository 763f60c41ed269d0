"""The portal's pages: sign in by a one-time link, the requester's tickets, a ticket's public messages, replying.

Every page is private and not cached (`Cache-Control: no-store`), sends no Referer (sign-in links carry a token
in their path) and has a strict Content-Security-Policy (the pages use no script). What a visitor may not see is
"not found" (404), the same answer as for what does not exist; pages that need a sign-in send a visitor without
one (a console user too) to the sign-in page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from postroom.mail.compose import OutgoingAttachment
from postroom.portal import queries
from postroom.portal.conf import get_portal_settings
from postroom.portal.links import is_link_usable, spend_link
from postroom.portal.outbox import queue_sign_in_request
from postroom.portal.ratelimits import WINDOW_SECONDS, build_client_bucket, count_and_check
from postroom.portal.replies import (
    PortalReplyRefusedError,
    ReplyVerdict,
    TicketClosedError,
    add_portal_reply,
    decide_portal_reply,
    find_upload_problem,
)
from postroom.portal.sessions import end_portal_session, find_portal_contact, start_portal_session
from postroom.tickets.attachments import AttachmentUnavailableError, get_attachment_bytes
from postroom.tickets.models import Contact, Ticket
from postroom.tickets.services import FINISHED_STATUSES, build_email_key

PAGE_SIZE: Final = 25
MAX_ADDRESS_CHARS: Final = 320  # RFC 5321 section 4.5.3.1: 64 + 1 + 255
FORM_SLACK_BYTES: Final = 1024 * 1024  # the reply text and the multipart framing around the files
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Types a browser may show without running anything; everything else is served as opaque bytes (as the console).
SAFE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"})

View = Callable[..., HttpResponse]


def _page(view: View) -> View:
    """Private, uncached, no Referer, strict CSP; "not found" as the portal's own page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            response = render(request, "portal/not_found.html", status=404)
        add_never_cache_headers(response)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)  # downloads bring their own
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def _signed_in(view: View) -> View:
    """The view gets the signed-in contact; without a portal sign-in (console users included) to the sign-in page."""

    @_page
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        contact = find_portal_contact(request, timezone.now(), get_portal_settings().session_lifetime)
        if contact is None:
            return redirect("portal:sign-in")
        return view(request, contact, *args, **kwargs)

    return wrapped


def _is_address(text: str) -> bool:
    if len(text) > MAX_ADDRESS_CHARS:
        return False
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def _link_origin(request: HttpRequest) -> str:
    """Where links point: the configured public URL, else this request's origin (Host checked by ALLOWED_HOSTS)."""
    return get_portal_settings().public_url or f"{request.scheme}://{request.get_host()}"


@require_http_methods(["GET", "POST"])
@_page
def sign_in(request: HttpRequest) -> HttpResponse:
    """Ask for an address; answer the same page whether or not we know it (the worker finds out, not the page)."""
    conf = get_portal_settings()
    now = timezone.now()
    if request.method == "GET":
        if find_portal_contact(request, now, conf.session_lifetime) is not None:
            return redirect("portal:ticket-list")
        return render(request, "portal/sign_in.html", {"email": ""})
    email = request.POST.get("email", "").strip()
    if not _is_address(email):
        context = {"email": email, "error": "Please enter an email address, like name@example.com."}
        return render(request, "portal/sign_in.html", context, status=422)
    client = build_client_bucket(request.META.get("REMOTE_ADDR", ""))
    if not count_and_check("client", client, conf.links_per_client):
        response = render(request, "portal/rate_limited.html", status=429)
        response["Retry-After"] = str(WINDOW_SECONDS)
        return response
    key = build_email_key(email)
    # Over the address's limit the page is the same and nothing is queued: the answer must not tell an onlooker
    # that someone asked for this address recently.
    if count_and_check("address", key, conf.links_per_address):
        with transaction.atomic():
            queue_sign_in_request(key, _link_origin(request), now)
    minutes = int(conf.link_lifetime.total_seconds() // 60)
    return render(request, "portal/sign_in_sent.html", {"minutes": minutes})


@require_http_methods(["GET", "POST"])
@_page
def link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a "Continue" button and spends nothing (mail scanners fetch links); the POST signs in."""
    now = timezone.now()
    if request.method == "GET":
        if not is_link_usable(token, now):
            return render(request, "portal/link_invalid.html", status=404)
        return render(request, "portal/link.html")
    contact = spend_link(token, now)
    if contact is None:
        return render(request, "portal/link_invalid.html", status=404)
    start_portal_session(request, contact, now)
    rotate_token(request)
    return redirect("portal:ticket-list")


@require_POST
@_page
def sign_out(request: HttpRequest) -> HttpResponse:
    end_portal_session(request)
    return redirect("portal:sign-in")


@require_GET
@_signed_in
def ticket_list(request: HttpRequest, contact: Contact) -> HttpResponse:
    page = Paginator(queries.list_portal_tickets(contact), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(ticket, queries.describe_status(ticket.status)) for ticket in page]
    return render(request, "portal/ticket_list.html", {"contact": contact, "page": page, "rows": rows})


def _get_ticket(contact: Contact, reference: str) -> Ticket:
    ticket = queries.find_portal_ticket(contact, reference)
    if ticket is None:
        raise Http404("no such ticket")  # also another contact's ticket: its number reveals nothing
    return ticket


def _render_ticket(
    request: HttpRequest, contact: Contact, ticket: Ticket, *, text: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    decision = decide_portal_reply(ticket, timezone.now())
    merged_into = ticket.merged_into
    conf = get_portal_settings()
    context = {
        "contact": contact,
        "ticket": ticket,
        "status_words": queries.describe_status(ticket.status),
        "messages": queries.list_public_messages(ticket),
        "decision": decision,
        "can_reply": decision.verdict is not ReplyVerdict.REFUSED,
        "reply_hint": decision.reason if ticket.status in FINISHED_STATUSES else "",
        "merged_into": merged_into
        if merged_into is not None and queries.find_portal_ticket(contact, merged_into.reference)
        else None,
        "text": text,
        "error": error,
        "upload_max_bytes": conf.upload_max_bytes,
        "uploads_max_total_bytes": conf.uploads_max_total_bytes,
    }
    return render(request, "portal/ticket_detail.html", context, status=status)


@require_GET
@_signed_in
def ticket_detail(request: HttpRequest, contact: Contact, reference: str) -> HttpResponse:
    return _render_ticket(request, contact, _get_ticket(contact, reference))


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@require_POST
@csrf_exempt  # checked below, after the size check: the CSRF check reads the whole body
@_signed_in
def ticket_reply(request: HttpRequest, contact: Contact, reference: str) -> HttpResponse:
    """Refuse an oversized body by its Content-Length before anything reads it, then check CSRF and add the reply."""
    ticket = _get_ticket(contact, reference)
    if _declared_length(request) > get_portal_settings().uploads_max_total_bytes + FORM_SLACK_BYTES:
        error = "The files are too large to send together. Please send fewer or smaller files."
        return _render_ticket(request, contact, ticket, error=error, status=413)
    return _accept_reply(request, contact, ticket)


@csrf_protect
def _accept_reply(request: HttpRequest, contact: Contact, ticket: Ticket) -> HttpResponse:
    """Add the reply (and files) as the requester's inbound message; a refusal re-shows the form with the text."""
    text = request.POST.get("text", "")
    uploads = request.FILES.getlist("files")
    problem = find_upload_problem([(upload.name or "", upload.size or 0) for upload in uploads])
    if problem is not None:
        return _render_ticket(request, contact, ticket, text=text, error=problem, status=422)
    files = [OutgoingAttachment(upload.name or "", upload.content_type or "", upload.read()) for upload in uploads]
    try:
        result = add_portal_reply(ticket.pk, contact, text, files, timezone.now())
    except TicketClosedError as refusal:
        return _render_ticket(request, contact, ticket, text=text, error=str(refusal), status=409)
    except PortalReplyRefusedError as refusal:
        return _render_ticket(request, contact, ticket, text=text, error=str(refusal), status=422)
    target = reverse("portal:ticket-detail", kwargs={"reference": result.ticket.reference})
    return redirect(f"{target}#m{result.message.pk}")


@require_GET
@_signed_in
def attachment_download(request: HttpRequest, contact: Contact, reference: str, pk: int) -> HttpResponse:
    """A public message's attachment as a download only (attachment disposition, nosniff, sandbox CSP)."""
    ticket = _get_ticket(contact, reference)
    attachment = queries.find_public_attachment(ticket, pk)
    if attachment is None:
        raise Http404("no such attachment")
    try:
        payload = get_attachment_bytes(attachment)
    except AttachmentUnavailableError as e:
        raise Http404(str(e)) from e
    declared = attachment.content_type.lower()
    response = HttpResponse(payload, content_type=declared if declared in SAFE_TYPES else "application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Length"] = str(len(payload))
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
