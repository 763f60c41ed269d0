"""The outbound SMTP client: send raw message bytes through a submission server, pooled or one-off.

Built on the standard library's smtplib, which speaks the protocol (EHLO, STARTTLS, MAIL/RCPT/DATA with
dot-stuffing, reply parsing) and is maintained with CPython; this package adds what smtplib leaves to its
caller: verified TLS with no plaintext fallback, AUTH PLAIN/LOGIN/XOAUTH2 with UTF-8 credentials, the
SMTPUTF8 and 8BITMIME parameters, a classification of every reply and error into SENT, DEFERRED or
FAILED with a reply text an agent can read, and a thread-safe connection pool. The pieces, one job each:

- smtp_values.py       settings, TlsMode, SendStatus, SendResult, SmtpConfigError
- smtp_connect.py      open one connection: TLS context, STARTTLS, EHLO, AUTH
- smtp_transaction.py  one MAIL/RCPT/DATA transaction, RSET after a failure
- smtp_outcome.py      replies and exceptions -> SendResult, secrets kept out of reply texts
- smtp_pool.py         SmtpPool
- smtp_retry.py        next_retry_delay, the backoff for DEFERRED messages

Usage from a worker: one `SmtpPool` per server settings, `pool.send(envelope_from, recipients, raw)` from
any thread; SENT -> done (check `refused` for recipients that did not get it), DEFERRED -> retry after
`next_retry_delay(attempt)`, FAILED -> show `reply` to an agent. Configuration that can never work
(plaintext to a remote host, xoauth2 without a token provider) raises SmtpConfigError up front.
"""

from __future__ import annotations

from collections.abc import Sequence

from postroom.mail.transport.smtp_pool import SmtpPool
from postroom.mail.transport.smtp_retry import next_retry_delay
from postroom.mail.transport.smtp_values import (
    SendResult,
    SendStatus,
    SmtpConfigError,
    SmtpSettings,
    TlsMode,
    TokenProvider,
    is_loopback_host,
)

__all__ = [
    "SendResult",
    "SendStatus",
    "SmtpConfigError",
    "SmtpPool",
    "SmtpSettings",
    "TlsMode",
    "TokenProvider",
    "is_loopback_host",
    "next_retry_delay",
    "send_once",
]


def send_once(
    settings: SmtpSettings,
    envelope_from: str,
    recipients: Sequence[str],
    raw: bytes,
    token_provider: TokenProvider | None = None,
) -> SendResult:
    """Send one message over a connection of its own, closed (QUIT) afterwards."""
    with SmtpPool(settings, size=1, token_provider=token_provider) as pool:
        return pool.send(envelope_from, recipients, raw)
