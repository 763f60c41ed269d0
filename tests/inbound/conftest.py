from __future__ import annotations

from collections.abc import Callable

import pytest

from postroom.inbound.models import InboundMessage


@pytest.fixture
def ingest(db: None) -> Callable[..., InboundMessage]:
    """Receive raw bytes like a connector would, process them, and return the ledger row."""
    from postroom.inbound.services import process_inbound, receive_message

    def run(raw: bytes, **kwargs: object) -> InboundMessage:
        kwargs.setdefault("source_kind", "test")
        result = receive_message(raw, enqueue=False, **kwargs)  # type: ignore[arg-type]
        process_inbound(result.inbound_id)
        return InboundMessage.objects.get(pk=result.inbound_id)

    return run
