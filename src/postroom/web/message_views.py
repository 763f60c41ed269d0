"""One message's own pages: raw headers, the formatted (sanitised HTML) view, its inline images, attachments.

Everything answers 404 unless the user may see the message's ticket. The formatted view is a document of its own,
shown by the ticket page in a sandboxed iframe (docs/architecture/ticket-view.md). Its inline images are loaded
by that sandboxed document, whose origin is opaque: the browser sends no session cookie with those requests, so
each image URL carries a short-lived signed capability bound to the user and the part, and the access check is
made again, for that user, when the image is fetched.
"""

from __future__ import annotations

from typing import Any, Final

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.clickjacking import xframe_options_sameorigin

from postroom.accounts.permissions import can_use_console, scope_tickets
from postroom.tickets.attachments import AttachmentUnavailableError, get_attachment_bytes
from postroom.tickets.models import Attachment, Ticket
from postroom.web import ticket_queries as queries
from postroom.web.safehtml import build_formatted_csp, build_formatted_document, sanitise_message_html
from postroom.web.views import console_view

INLINE_IMAGE_SALT: Final = "postroom.web.inline-image"
INLINE_IMAGE_MAX_AGE_S: Final = 3600  # the formatted view is rendered afresh on every page load; an hour is ample
# Types a browser may display inline without running anything; everything else is served as opaque bytes.
_SAFE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"})


def sign_inline_image(user_pk: int, attachment_pk: int) -> str:
    return signing.TimestampSigner(salt=INLINE_IMAGE_SALT).sign(f"{user_pk}.{attachment_pk}")


def find_inline_image_user(token: str, attachment_pk: int) -> Any | None:
    """The user an inline-image capability was issued to, if it is genuine, fresh and for this part."""
    try:
        value = signing.TimestampSigner(salt=INLINE_IMAGE_SALT).unsign(token, max_age=INLINE_IMAGE_MAX_AGE_S)
    except signing.BadSignature:
        return None
    user_pk, _, signed_attachment = value.partition(".")
    if signed_attachment != str(attachment_pk) or not user_pk.isdigit():
        return None
    return get_user_model().objects.filter(pk=int(user_pk), is_active=True).first()


@console_view
def message_headers(request: HttpRequest, pk: int) -> HttpResponse:
    message = queries.get_visible_message(request.user, pk)
    return render(request, "postroom/message_headers.html", {"message": message, "inbound": _find_inbound(message)})


def _find_inbound(message: Any) -> Any | None:
    """The ledger row of a message that came in by mail; messages written here have none."""
    try:
        return message.inbound
    except ObjectDoesNotExist:
        return None


@xframe_options_sameorigin  # the console frames it; the CSP's frame-ancestors says the same to newer browsers
@console_view
def message_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The message's HTML, sanitised, as a document for a sandboxed iframe; `?remote=1` lets remote images load."""
    message = queries.get_visible_message(request.user, pk)
    if not message.html:
        raise Http404("this message has no HTML part")
    allow_remote = request.GET.get("remote") == "1"
    user_pk: int = request.user.pk or 0  # signed in: console_view
    prefix = request.build_absolute_uri(reverse("message-html", args=[message.pk]) + "images/")
    inline_images = {
        attachment.content_id.strip("<>").lower(): (
            f"{prefix}{attachment.pk}/?t={sign_inline_image(user_pk, attachment.pk)}"
        )
        for attachment in queries.find_inline_images(message)
    }
    # The copy sanitised at ingest when there is one (no remote content, no trackers; this pass only resolves its
    # cid: images); the original for the remote opt-in and for messages stored before ingest sanitised.
    source = message.safe_html if message.safe_html and not allow_remote else message.html
    sanitised = sanitise_message_html(source, inline_images=inline_images, allow_remote=allow_remote)
    response = HttpResponse(build_formatted_document(sanitised.html), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = build_formatted_csp(prefix, allow_remote=allow_remote)
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"  # it carries capabilities that expire
    return response


def message_inline_image(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    """An inline image of a message for its formatted view: by session, or by the capability in `?t=`."""
    token = request.GET.get("t", "")
    user: Any = request.user
    if not user.is_authenticated:
        if not token:
            return redirect_to_login(request.get_full_path())
        user = find_inline_image_user(token, attachment_pk)
        if user is None:
            raise Http404("no such image")
    if not can_use_console(user):
        raise PermissionDenied
    message = queries.get_visible_message(user, pk)
    attachment = next((a for a in queries.find_inline_images(message) if a.pk == attachment_pk), None)
    if attachment is None:
        raise Http404("no such image")
    try:
        payload = get_attachment_bytes(attachment)
    except AttachmentUnavailableError as e:
        raise Http404(str(e)) from e
    response = HttpResponse(payload, content_type=attachment.content_type.lower())
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=False, filename=attachment.filename) or "inline"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    return response


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
