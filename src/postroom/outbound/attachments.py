"""Files agents attach to replies and notes: cleaned names and types, size limits, stored as Attachment rows.

The bytes go to the content-addressed blob store and the rows point at them, exactly as for inbound parts
(`postroom.tickets.services.store_attachments`), so the timeline lists and downloads them the same way. A reply's
raw message carries them too; a note has none, so these blobs are written durably (fsync), unlike inbound parts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from django.template.defaultfilters import filesizeformat

from postroom.core.blobs import get_blob_store
from postroom.mail.compose import OutgoingAttachment
from postroom.mail.parse.attachments import build_attachment
from postroom.mail.values import ParsedAttachment
from postroom.tickets.models import Message
from postroom.tickets.services import store_attachments

MAX_FILENAME_CHARS: Final = 255  # what common file systems take; the Attachment row holds 500
DEFAULT_FILENAME: Final = "attachment"
OPAQUE_TYPE: Final = "application/octet-stream"
# RFC 2045 section 5.1 type/subtype tokens; composite types (multipart, message) are never declared by an upload.
_RFC2045_NAME: Final = r"[a-z0-9!#$&^_.+-]+"
_CONTENT_TYPE: Final = re.compile(rf"^(?!multipart/|message/){_RFC2045_NAME}/{_RFC2045_NAME}$")


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """Bytes per file and for all files of one message together (POSTROOM_REPLY_ATTACHMENT[S]_MAX_*)."""

    per_file: int
    total: int


def get_attachment_limits() -> AttachmentLimits:
    from django.conf import settings

    conf = settings.POSTROOM
    return AttachmentLimits(per_file=conf.reply_attachment_max_bytes, total=conf.reply_attachments_max_total_bytes)


def clean_filename(raw: str) -> str:
    """The name a browser sent, as a plain file name: no folders, no control characters, not empty."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(char).startswith("C") else char for char in name)
    name = " ".join(name.split()).strip(". ")
    if len(name) > MAX_FILENAME_CHARS:
        _stem, dot, extension = name.rpartition(".")
        keep = extension if dot and len(extension) <= 16 else ""
        name = name[: MAX_FILENAME_CHARS - len(keep) - 1] + "." + keep if keep else name[:MAX_FILENAME_CHARS]
    return name or DEFAULT_FILENAME


def clean_content_type(raw: str | None) -> str:
    """The declared type without parameters if it is a plain RFC 2045 type, else application/octet-stream."""
    declared = (raw or "").split(";", 1)[0].strip().lower()
    return declared if _CONTENT_TYPE.match(declared) else OPAQUE_TYPE


def build_outgoing_attachment(filename: str, content_type: str | None, payload: bytes) -> OutgoingAttachment:
    return OutgoingAttachment(clean_filename(filename), clean_content_type(content_type), payload)


def find_limit_problem(files: Sequence[tuple[str, int]], limits: AttachmentLimits) -> str | None:
    """Why these files (name, size in bytes) may not go with one message, for the agent; None when they may.

    Takes sizes, not bytes, so that the console can refuse an upload before reading it into memory."""
    for filename, size in files:
        if size > limits.per_file:
            most = filesizeformat(limits.per_file)
            return f'the file "{filename}" is {filesizeformat(size)}; a file may be at most {most}'
    total = sum(size for _filename, size in files)
    if total > limits.total:
        return (
            f"the files together are {filesizeformat(total)}; "
            f"one message may carry at most {filesizeformat(limits.total)}"
        )
    return None


def describe_attachments(attachments: Sequence[OutgoingAttachment]) -> tuple[ParsedAttachment, ...]:
    """Hashes, size and sniffed type of each file, as the inbound parser describes parts."""
    return tuple(
        build_attachment(
            attachment.payload,
            filename=attachment.filename,
            declared_type=attachment.content_type,
            inline=False,
            content_id=None,
        )
        for attachment in attachments
    )


def write_attachment_blobs(parts: tuple[ParsedAttachment, ...]) -> None:
    """Store the bytes before any row lock is taken (file writes; idempotent, content-addressed).

    Durably, unlike inbound parts: a note has no raw message they could be re-extracted from."""
    store = get_blob_store()
    for part in parts:
        store.put(part.payload, durable=True, digest=part.sha256)


def add_attachment_rows(message: Message, parts: tuple[ParsedAttachment, ...]) -> int:
    """The Attachment rows of an outbound message or note (blobs written by `write_attachment_blobs`)."""
    if not parts:
        return 0
    return store_attachments(message, parts, get_blob_store(), blobs_written=True)
