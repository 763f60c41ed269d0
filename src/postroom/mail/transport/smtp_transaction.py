"""One mail transaction (MAIL, RCPT..., DATA) on an open connection, left clean with RSET when it failed."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Sequence
from typing import Final

from postroom.mail.transport.smtp_outcome import format_reply, result_for_reply
from postroom.mail.transport.smtp_values import SendResult, SendStatus

_ANY_EOL: Final = re.compile(rb"\r\n|\r|\n")
_ACCEPTED_RCPT: Final = frozenset({250, 251})  # 251: "user not local; will forward" (RFC 5321 4.2.2)
_CLOSING: Final = 421  # the server closes the transmission channel (RFC 5321 3.8)


class ConnectionLost(Exception):  # noqa: N818 (a signal to the pool, which decides whether to reconnect)
    """The server went away mid-transaction, or said 421 to MAIL (it is closing, e.g. an idle timeout).

    `content_sent` says whether DATA had started (retrying then risks a duplicate); `result` is the 421's
    outcome when there was one.
    """

    def __init__(self, error: Exception, *, content_sent: bool, result: SendResult | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.content_sent = content_sent
        self.result = result


def send_transaction(conn: smtplib.SMTP, envelope_from: str, recipients: Sequence[str], raw: bytes) -> SendResult:
    """Send `raw` to `recipients`; classify the replies; RSET (or close on 421) after a failure.

    Raises ConnectionLost when the server disconnects; smtplib's other exceptions pass through.
    """
    if not recipients:
        return SendResult(SendStatus.FAILED, None, "the message has no recipients")
    options = build_mail_options(conn, envelope_from, recipients, raw)
    if isinstance(options, SendResult):
        return options
    content_sent = False
    try:
        code, text = conn.mail(envelope_from, options)
        if code == _CLOSING:
            conn.close()
            result = result_for_reply(code, text)
            raise ConnectionLost(smtplib.SMTPServerDisconnected(result.reply), content_sent=False, result=result)
        if code != 250:
            return _abort(conn, result_for_reply(code, text))
        refused = _send_recipients(conn, recipients)
        if len(refused) == len(recipients) or any(code == _CLOSING for code, _ in refused.values()):
            return _abort(conn, result_for_all_refused(refused))
        content_sent = True
        try:
            code, text = conn.data(normalise_line_endings(raw))
        except smtplib.SMTPDataError as e:  # DATA itself refused (no 354)
            return _abort(conn, _with_refused(result_for_reply(e.smtp_code, e.smtp_error), refused))
        result = _with_refused(result_for_reply(code, text), refused)
        return result if result.status is SendStatus.SENT else _abort(conn, result)
    except smtplib.SMTPServerDisconnected as e:
        conn.close()
        raise ConnectionLost(e, content_sent=content_sent) from e


def build_mail_options(
    conn: smtplib.SMTP, envelope_from: str, recipients: Sequence[str], raw: bytes
) -> list[str] | SendResult:
    """MAIL FROM parameters: BODY=8BITMIME for 8-bit content, SMTPUTF8 for UTF-8 addresses (RFC 6152, 6531).

    SMTPUTF8 is required for a non-ASCII envelope address (FAILED when the server lacks it) and asked for
    when only the header section has UTF-8 in it and the server offers it. 8-bit content goes without
    BODY=8BITMIME to a server that does not offer it (rare; a server that minds refuses with 5xx).
    """
    options: list[str] = []
    if not raw.isascii() and conn.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    utf8_envelope = not envelope_from.isascii() or not all(r.isascii() for r in recipients)
    if utf8_envelope and not conn.has_extn("smtputf8"):
        return SendResult(
            SendStatus.FAILED, None, "the envelope has a non-ASCII address and the server does not offer SMTPUTF8"
        )
    if utf8_envelope or (conn.has_extn("smtputf8") and not _header_section(raw).isascii()):
        options.append("SMTPUTF8")
    return options


def normalise_line_endings(raw: bytes) -> bytes:
    """CRLF everywhere (RFC 5321 2.3.8): a bare CR or LF on the wire is refused or, worse, smuggled."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") == crlf and raw.count(b"\r") == crlf:
        return raw
    return _ANY_EOL.sub(b"\r\n", raw)


def result_for_all_refused(refused: dict[str, tuple[int, str]]) -> SendResult:
    """Every recipient refused (or a 421 cut RCPT short): deferred if any refusal was temporary, else failed."""
    temporary = [(code, reply) for code, reply in refused.values() if 400 <= code < 500]
    code, reply = temporary[-1] if temporary else next(iter(refused.values()))
    status = SendStatus.DEFERRED if temporary else SendStatus.FAILED
    return SendResult(status, code, f"{len(refused)} recipient(s) refused: {reply}", dict(refused))


def _send_recipients(conn: smtplib.SMTP, recipients: Sequence[str]) -> dict[str, tuple[int, str]]:
    """RCPT each recipient; the refused ones with their replies (stops at a 421: the server is leaving)."""
    refused: dict[str, tuple[int, str]] = {}
    for recipient in recipients:
        code, text = conn.rcpt(recipient)
        if code not in _ACCEPTED_RCPT:
            refused[recipient] = (code, format_reply(code, text))
        if code == _CLOSING:
            break
    return refused


def _with_refused(result: SendResult, refused: dict[str, tuple[int, str]]) -> SendResult:
    return SendResult(result.status, result.code, result.reply, refused) if refused else result


def _header_section(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    return raw if end < 0 else raw[:end]


def _abort(conn: smtplib.SMTP, result: SendResult) -> SendResult:
    """Leave the connection ready for the next transaction (RSET), or closed if the server is going away."""
    if result.code == _CLOSING:
        conn.close()
        return result
    try:
        code, _ = conn.rset()
    except smtplib.SMTPServerDisconnected:
        code = 0
    if code != 250:
        conn.close()
    return result
