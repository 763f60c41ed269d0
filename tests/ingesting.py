"""Receive raw bytes like a connector would and process them in-process: the tests' way into the pipeline."""

from __future__ import annotations

from postroom.inbound.models import InboundMessage


def ingest_raw(raw: bytes, **kwargs: object) -> InboundMessage:
    from postroom.inbound.services import process_inbound, receive_message

    kwargs.setdefault("source_kind", "test")
    result = receive_message(raw, enqueue=False, **kwargs)  # type: ignore[arg-type]
    process_inbound(result.inbound_id)
    return InboundMessage.objects.select_related("message__ticket").get(pk=result.inbound_id)
