"""Postroom's own SMTP/LMTP listener: the pure transport, wired to `receive_message`.

A 250 goes out only after the raw message and its ledger row committed; a failed commit answers 451 so the
sending server keeps the message and retries (RFC 5321 section 4.2.5).
"""

from __future__ import annotations

import logging

from django.db import close_old_connections

from postroom.inbound.services import receive_message
from postroom.mail.transport.delivery import DeliveryOutcome, Envelope
from postroom.mail.transport.lmtp_server import InboundListener

log = logging.getLogger(__name__)


def deliver_envelope(envelope: Envelope) -> DeliveryOutcome:
    """Runs in the listener's thread pool. Like a Django request, it drops connections past their
    POSTROOM_DB_CONN_MAX_AGE (or broken ones) before and after, and otherwise reuses the thread's connection."""
    close_old_connections()
    try:
        result = receive_message(
            envelope.raw,
            source_kind="smtp",
            envelope_from=envelope.mail_from,
            envelope_to=envelope.rcpt_tos,
        )
    except Exception as e:  # our fault: answer 451 and let the sender retry; nothing was acknowledged
        log.exception("could not commit a message from %s", envelope.peer)
        return DeliveryOutcome.temporary_failure(f"{type(e).__name__}")
    finally:
        close_old_connections()
    return DeliveryOutcome.accepted(result.tracking_id)


def start_listener(host: str, port: int, *, lmtp: bool, max_bytes: int) -> InboundListener:
    listener = InboundListener(deliver_envelope, host=host, port=port, lmtp=lmtp, max_bytes=max_bytes)
    listener.start()
    return listener
