"""An attachment's bytes for download: from the blob store, or re-extracted from the message's raw bytes.

Attachment blobs are written without fsync because they can be derived from the durable raw message
(docs/adr/0003-exactly-once-ingestion.md); a blob lost in a crash is re-extracted here and stored again.
"""

from __future__ import annotations

from postroom.core.blobs import BlobNotFoundError, get_blob_store
from postroom.mail.parse import parse_message
from postroom.tickets.models import Attachment


class AttachmentUnavailableError(LookupError):
    """Neither the attachment's blob nor its message's raw bytes hold it any more."""


def get_attachment_bytes(attachment: Attachment) -> bytes:
    store = get_blob_store()
    try:
        return store.get(attachment.sha256)
    except BlobNotFoundError:
        pass
    raw_sha256 = attachment.message.raw_sha256
    try:
        raw = store.get(raw_sha256) if raw_sha256 else b""
    except BlobNotFoundError as e:
        raise AttachmentUnavailableError(f"attachment {attachment.pk}: blob and raw message are missing") from e
    for part in parse_message(raw).attachments:
        if part.sha256 == attachment.sha256:
            store.put(part.payload, durable=True, digest=part.sha256)
            return part.payload
    raise AttachmentUnavailableError(f"attachment {attachment.pk}: not found in its raw message")
