"""API: Messages: get one, download its raw bytes.

A message is visible exactly when its ticket is (postroom.accounts.permissions); anything else is 404, the same as
an id that does not exist. The raw download is the message as received or as sent (RFC 5322 bytes from the blob
store), always as an attachment (`message/rfc822`, nosniff, sandbox CSP) so a browser never renders its HTML.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from ninja import Field, P, PathEx, Router, Schema

from postroom.accounts.permissions import can_use_console, scope_queryset
from postroom.core.blobs import BlobNotFoundError, get_blob_store
from postroom.tickets.models import Message

router = Router(tags=["messages"])

MAX_ID: Final = 2**63 - 1
RAW_RESPONSE: Final = {
    "responses": {
        200: {
            "description": "The raw message (RFC 5322) as a download",
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


class MessageAttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int


class MessageDetailOut(Schema):
    id: int
    ticket: str = Field(description="The reference of the ticket the message is on.")
    direction: str
    subject: str
    author: str = Field(description="The sender's address (inbound) or the agent's user name (replies and notes).")
    text: str
    new_text: str
    sent_at: dt.datetime
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    send_status: str | None
    is_automatic: bool
    possible_spoof: bool = Field(description="Sender authentication says the sender may be forged.")
    auth_evidence: list[str] = Field(description="Sender authentication's evidence lines, the deciding one first.")
    probable_spam: bool = Field(description="The spam scanner's score reached the mailbox's tag threshold.")
    spam_score: float | None = Field(description="The spam scanner's score, when it scanned the message.")
    has_raw: bool = Field(description="Whether /raw has the message's bytes (notes have none).")
    attachments: list[MessageAttachmentOut]


def _get_message(request: HttpRequest, message_id: int) -> Message:
    """The message if the user may see its ticket; 403 for requesters, 404 otherwise."""
    if not can_use_console(request.user):
        raise PermissionDenied
    messages = scope_queryset(Message.objects.all(), request.user, queue_field="ticket__queue_id")
    message = messages.select_related("ticket", "author", "author_user", "delivery").filter(pk=message_id).first()
    if message is None:
        raise Http404("no such message")
    return message


def _author(message: Message) -> str:
    if message.author is not None:
        return message.author.email
    return message.author_user.get_username() if message.author_user is not None else ""


@router.get("/{message_id}", response=MessageDetailOut)
def get_message(request: HttpRequest, message_id: PathEx[int, P(ge=1, le=MAX_ID)]) -> MessageDetailOut:
    message = _get_message(request, message_id)
    delivery = getattr(message, "delivery", None) if message.direction == "out" else None
    attachments = message.attachments.order_by("id")
    return MessageDetailOut(
        id=message.pk,
        ticket=message.ticket.reference,
        direction=message.direction,
        subject=message.subject,
        author=_author(message),
        text=message.text,
        new_text=message.new_text,
        sent_at=message.sent_at,
        message_id=message.message_id,
        in_reply_to=[str(item) for item in message.in_reply_to],
        references=[str(item) for item in message.references],
        send_status=delivery.status if delivery is not None else None,
        is_automatic=message.is_automatic,
        possible_spoof=message.possible_spoof,
        auth_evidence=[str(line) for line in message.auth_evidence or []],
        probable_spam=message.probable_spam,
        spam_score=message.spam_score,
        has_raw=bool(message.raw_sha256),
        attachments=[
            MessageAttachmentOut(id=a.pk, filename=a.filename, content_type=a.content_type, size=a.size)
            for a in attachments
        ],
    )


@router.get("/{message_id}/raw", openapi_extra=RAW_RESPONSE)
def get_message_raw(request: HttpRequest, message_id: PathEx[int, P(ge=1, le=MAX_ID)]) -> HttpResponse:
    """The message's RFC 5322 bytes as received (inbound) or as sent (replies); 404 for notes and lost blobs."""
    message = _get_message(request, message_id)
    if not message.raw_sha256:
        raise Http404("this message has no raw form")
    try:
        raw = get_blob_store().get(message.raw_sha256)
    except (BlobNotFoundError, ValueError) as e:
        raise Http404("the raw message is no longer stored") from e
    response = HttpResponse(raw, content_type="message/rfc822")
    filename = f"message-{message.pk}.eml"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Content-Length"] = str(len(raw))
    return response
