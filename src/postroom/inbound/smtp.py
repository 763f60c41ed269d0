"""Postroom's own SMTP/LMTP listener: the pure transport, wired to `receive_message`.

A 250 goes out only after the raw message and its ledger row committed; a failed commit answers 451 so the
sending server keeps the message and retries (RFC 5321 section 4.2.5). Mail for an SMTP mailbox in sender_auth
mode `reject` that fails sender authentication is refused with 550 5.7.26 and kept in quarantine
(postroom.inbound.smtp_refusal).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from typing import Final

from django.db import close_old_connections

from postroom.inbound.services import receive_message
from postroom.inbound.smtp_refusal import (
    REFUSAL_CODE,
    REFUSAL_TEXT,
    find_smtp_mailbox,
    judge_before_accepting,
    record_refusal,
)
from postroom.mail.transport.delivery import DeliveryOutcome, Envelope
from postroom.mail.transport.lmtp_server import InboundListener

log = logging.getLogger(__name__)


CONNECTION_CHECK_SECONDS: Final = 1.0
_checked = threading.local()


def deliver_envelope(envelope: Envelope) -> DeliveryOutcome:
    """Runs in the listener's thread pool, reusing the thread's database connection.

    Like a Django request it drops connections past POSTROOM_DB_CONN_MAX_AGE, or broken ones, but at most once a
    second per thread and right after an error: each check costs a round trip (a health-check SELECT 1), which at
    hundreds of messages a second was the listener's fourth-largest cost. A connection that broke in between fails
    one delivery with 451, and the sending server retries."""
    _check_connection()
    client_ip = peer_address(envelope.peer)
    try:
        mailbox = find_smtp_mailbox(envelope.rcpt_tos)
        refusal = judge_before_accepting(envelope, mailbox, client_ip) if mailbox is not None else None
        if mailbox is not None and refusal is not None:
            kept = record_refusal(envelope, mailbox, client_ip, refusal)
            log.info("refused a possible spoof from %s (kept as %s)", envelope.peer, kept.tracking_id)
            return DeliveryOutcome.rejected(REFUSAL_TEXT, REFUSAL_CODE)
        result = receive_message(
            envelope.raw,
            source_kind="smtp",
            mailbox=mailbox,
            envelope_from=envelope.mail_from,
            envelope_to=envelope.rcpt_tos,
            client_ip=client_ip,
            helo=envelope.helo,
        )
    except Exception as e:  # our fault: answer 451 and let the sender retry; nothing was acknowledged
        log.exception("could not commit a message from %s", envelope.peer)
        _check_connection(force=True)
        return DeliveryOutcome.temporary_failure(f"{type(e).__name__}")
    return DeliveryOutcome.accepted(result.tracking_id)


def peer_address(peer: str) -> str | None:
    """The IP address of a "host:port" or "[v6-address]:port" peer (Envelope.peer); None when it is not one."""
    host = peer.rsplit(":", 1)[0] if peer.count(":") == 1 or peer.startswith("[") else peer
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _check_connection(*, force: bool = False) -> None:
    now = time.monotonic()
    if force or now - getattr(_checked, "at", -CONNECTION_CHECK_SECONDS) >= CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _checked.at = now


def start_listener(host: str, port: int, *, lmtp: bool, max_bytes: int) -> InboundListener:
    listener = InboundListener(deliver_envelope, host=host, port=port, lmtp=lmtp, max_bytes=max_bytes)
    listener.start()
    return listener
