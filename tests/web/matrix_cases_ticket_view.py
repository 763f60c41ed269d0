"""Permission-matrix cases of the ticket page's own endpoints: formatted view, its inline images, assignment, fields.

The matrix's targets are plain-text mails; `_with_formatted` gives a target's message an HTML part showing an
inline image (a Content-ID part with its blob) the first time a URL is built, so the formatted view and the image
endpoint answer 200 where the role may see the ticket and the matrix compares real outcomes, not 404s for all.
"""

from __future__ import annotations

import hashlib
from typing import Final

from matrix import ACT_WEB, ANONYMOUS, READ, Case, Target

from postroom.core.blobs import get_blob_store
from postroom.tickets.models import Attachment, Message

# A 1x1 transparent PNG.
PNG: Final = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
CONTENT_ID: Final = "logo@matrix.example"


def _with_formatted(target: Target) -> tuple[int, int]:
    """The target message's id and its inline image's id, adding an HTML part and the image when missing."""
    message = Message.objects.get(pk=target.message_id)
    image = Attachment.objects.filter(message=message, content_id=CONTENT_ID).first()
    if image is None:
        message.html = f'<p>See the logo: <img src="cid:{CONTENT_ID}" alt="logo"></p>'
        message.save(update_fields=["html"])
        digest = get_blob_store().put(PNG)
        image = Attachment.objects.create(
            tenant_id=message.tenant_id,
            message=message,
            filename="logo.png",
            content_type="image/png",
            size=len(PNG),
            md5=hashlib.md5(PNG, usedforsecurity=False).hexdigest(),
            sha256=digest,
            inline=True,
            content_id=CONTENT_ID,
        )
    return message.pk, image.pk


def _formatted_url(target: Target) -> str:
    message_id, _image = _with_formatted(target)
    return f"/messages/{message_id}/html/"


def _inline_image_url(target: Target) -> str:
    message_id, image_id = _with_formatted(target)
    return f"/messages/{message_id}/html/images/{image_id}/"


CASES: Final = (
    Case("message-html", "GET", _formatted_url, {**READ, ANONYMOUS: ("login", "login")}),
    Case("message-html", "GET", lambda t: f"{_formatted_url(t)}?remote=1", {**READ, ANONYMOUS: ("login", "login")}),
    Case("message-inline-image", "GET", _inline_image_url, {**READ, ANONYMOUS: ("login", "login")}),
    Case(
        "ticket-assign",
        "POST",
        lambda t: f"/tickets/{t.reference}/assign/",
        {**ACT_WEB, ANONYMOUS: ("login", "login")},
        data={"assignee": "me"},
    ),
    Case(
        "ticket-assign",
        "POST",
        lambda t: f"/tickets/{t.reference}/assign/",
        {**ACT_WEB, ANONYMOUS: ("login", "login")},
        data={"assignee": ""},
    ),
    Case(
        "ticket-fields",
        "POST",
        lambda t: f"/tickets/{t.reference}/fields/",
        {**ACT_WEB, ANONYMOUS: ("login", "login")},
        data={"priority": "high"},
    ),
)
