"""The inbound SMTP/LMTP listener: acknowledges a message only after the delivery callable committed it."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP, syntax
from aiosmtpd.smtp import Envelope as SMTPEnvelope
from aiosmtpd.smtp import Session as SMTPSession

from postroom.mail.transport.delivery import DeliveryOutcome, DeliveryStatus, Envelope

log = logging.getLogger(__name__)

Deliver = Callable[[Envelope], DeliveryOutcome]
AcceptRecipient = Callable[[str], bool]

# Replies (RFC 5321 section 4.2 codes, RFC 3463 enhanced status codes).
REPLY_RCPT_OK: Final = "250 2.1.5 OK"
REPLY_ACCEPTED: Final = "250 2.0.0 OK: message accepted"
REPLY_TEMPORARY_FAILURE: Final = "451 4.3.0 Temporary failure, please try again later"
REPLY_REJECTED: Final = "554 5.6.0"
REPLY_UNKNOWN_RECIPIENT: Final = "550 5.1.1 Recipient address rejected: unknown recipient"
REPLY_TOO_MANY_RECIPIENTS: Final = "452 4.5.3 Too many recipients"
REPLY_TOO_BIG: Final = "552 5.3.4 Message size exceeds fixed maximum message size"
REPLY_LINE_TOO_LONG: Final = "500 5.5.2 Line too long"

# aiosmtpd's own reply to a declared SIZE over the limit carries no enhanced status code; rewritten on the way out.
# Our DATA-phase failures need one line per recipient under LMTP (RFC 2033 section 4.2): push(per_recipient=True).
_AIOSMTPD_SIZE_AT_MAIL: Final = "552 Error: message size exceeds fixed maximum message size"

MAX_RECIPIENTS: Final = 1000  # per transaction; Postfix's smtpd_recipient_limit default
MAX_REASON_CHARS: Final = 200  # a reply line is at most 512 octets (RFC 5321 section 4.5.3.1.5)
# One line of DATA, in bytes. RFC 5321 allows 1000 but broken HTML generators send far longer lines and
# Postfix accepts them; refusing would bounce real customer mail, and max_bytes still bounds memory.
LINE_LENGTH_LIMIT: Final = 1024 * 1024
DEFAULT_WORKERS: Final = 8  # threads running deliver/accept_recipient, i.e. concurrent database commits
SERVER_IDENT: Final = "Postroom"


class InboundListener:
    """Listens for SMTP or LMTP and hands each message to a blocking `deliver` callable.

    The reply to DATA is 250 only after `deliver` returned ACCEPTED, so a message is never acknowledged
    before it is committed; 451 when it returned TEMPORARY_FAILURE or raised (the sending server retries);
    554 when it returned REJECTED; 552 when the message is larger than `max_bytes`. Under LMTP the same
    status is repeated once per accepted recipient. `deliver` and `accept_recipient` run in a thread pool,
    never on the event loop. Runs its own event loop in a daemon thread: `start()`, `stop()` or `with`.
    """

    def __init__(
        self,
        deliver: Deliver,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lmtp: bool = False,
        max_bytes: int,
        accept_recipient: AcceptRecipient | None = None,
        server_hostname: str | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.host = host
        self.lmtp = lmtp
        self.max_bytes = max_bytes
        self.server_hostname = server_hostname
        self._requested_port = port
        self._deliver = deliver
        self._accept_recipient = accept_recipient
        self._workers = workers
        self._bound_port: int | None = None
        self._controller: _Controller | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The bound port while running (the real one when 0 was asked for), else the configured one."""
        return self._requested_port if self._bound_port is None else self._bound_port

    @property
    def is_running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Bind, start the event loop thread and return once the listener answers connections."""
        with self._lock:
            if self._controller is not None:
                raise RuntimeError("the listener is already running")
            sock = _bind(self.host, self._requested_port)
            bound_port: int = sock.getsockname()[1]
            executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="postroom-inbound")
            handler = _Handler(
                deliver=self._deliver,
                accept_recipient=self._accept_recipient,
                lmtp=self.lmtp,
                executor=executor,
            )
            controller = _Controller(
                handler,
                sock=sock,
                lmtp=self.lmtp,
                hostname=_connectable_host(self.host),
                port=bound_port,
                server_hostname=self.server_hostname or socket.getfqdn(),
                ident=SERVER_IDENT,
                data_size_limit=self.max_bytes,
                enable_SMTPUTF8=True,
                decode_data=False,
            )
            try:
                controller.start()
            except BaseException:
                sock.close()
                executor.shutdown(wait=False)
                raise
            self._controller, self._executor, self._bound_port = controller, executor, bound_port
        log.info("inbound %s listener on %s port %d", "LMTP" if self.lmtp else "SMTP", self.host, bound_port)

    def stop(self) -> None:
        """Close the listener and its sessions, then wait for deliveries already running to finish.

        A delivery interrupted this way may have committed without its 250 being sent; the sending server
        then retries, so the delivery callable must tolerate a duplicate (e.g. by Message-ID).
        """
        with self._lock:
            controller, executor = self._controller, self._executor
            if controller is None or executor is None:
                return
            controller.stop()
            executor.shutdown(wait=True)
            self._controller = self._executor = None
            self._bound_port = None

    def __enter__(self) -> InboundListener:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Handler:
    """aiosmtpd hooks: recipient check at RCPT, delivery at DATA, both off the event loop."""

    def __init__(
        self,
        *,
        deliver: Deliver,
        accept_recipient: AcceptRecipient | None,
        lmtp: bool,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._deliver = deliver
        self._accept_recipient = accept_recipient
        self._lmtp = lmtp
        self._executor = executor

    async def handle_RCPT(  # noqa: N802 (aiosmtpd finds hooks by this name)
        self,
        server: SMTP,
        session: SMTPSession,
        envelope: SMTPEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        peer = format_peer(session.peer)
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            log.info("too many recipients from %s", peer)
            return REPLY_TOO_MANY_RECIPIENTS
        accept = self._accept_recipient
        if accept is not None:
            try:
                accepted = await asyncio.get_running_loop().run_in_executor(self._executor, accept, address)
            except Exception:
                log.exception("recipient check failed for a recipient at %s", domain_of(address))
                return REPLY_TEMPORARY_FAILURE
            if not accepted:
                log.info("refused unknown recipient at %s from %s", domain_of(address), peer)
                return REPLY_UNKNOWN_RECIPIENT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return REPLY_RCPT_OK

    async def handle_DATA(  # noqa: N802 (aiosmtpd finds hooks by this name)
        self, server: SMTP, session: SMTPSession, envelope: SMTPEnvelope
    ) -> str:
        message = build_envelope(
            mail_from=envelope.mail_from or "",
            rcpt_tos=envelope.rcpt_tos,
            raw=envelope.original_content or b"",
            peer=session.peer,
            helo=session.host_name or "",
        )
        reply = await self._deliver_off_loop(message)
        if self._lmtp:
            return "\r\n".join([reply] * len(message.rcpt_tos))
        return reply

    async def _deliver_off_loop(self, message: Envelope) -> str:
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(self._executor, self._deliver, message)
        except Exception:
            log.exception("delivery raised; replying 451 to %s (%d bytes)", message.peer, len(message.raw))
            return REPLY_TEMPORARY_FAILURE
        return reply_for_outcome(outcome, peer=message.peer, size=len(message.raw))

    async def handle_exception(self, error: Exception) -> str:
        """Any other error inside a session: our fault, and the client must not see its text."""
        log.error("inbound session error", exc_info=error)
        return REPLY_TEMPORARY_FAILURE


def reply_for_outcome(outcome: DeliveryOutcome, *, peer: str, size: int) -> str:
    """The reply line for one delivery outcome; logs it (a temporary failure's reason is never sent)."""
    if outcome.status is DeliveryStatus.ACCEPTED:
        log.info("accepted %d bytes from %s", size, peer)
        return REPLY_ACCEPTED
    if outcome.status is DeliveryStatus.REJECTED:
        log.info("rejected %d bytes from %s: %s", size, peer, outcome.reason)
        return f"{outcome.code or REPLY_REJECTED} {sanitise_reason(outcome.reason) or 'Message rejected'}"
    log.warning("temporary failure for %d bytes from %s: %s", size, peer, outcome.reason)
    return REPLY_TEMPORARY_FAILURE


def build_envelope(*, mail_from: str, rcpt_tos: list[str], raw: bytes, peer: object, helo: str = "") -> Envelope:
    """Our envelope from aiosmtpd's: the null reverse-path `<>` becomes ""."""
    return Envelope(
        mail_from="" if mail_from == "<>" else mail_from,
        rcpt_tos=tuple(rcpt_tos),
        raw=raw,
        peer=format_peer(peer),
        helo=helo[:255],
    )


def format_peer(peer: object) -> str:
    """aiosmtpd's peer (a socket address tuple) as "host:port", IPv6 hosts in brackets."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer)


def domain_of(address: str) -> str:
    """The domain part only: recipient local parts are personal data and stay out of logs."""
    return address.rpartition("@")[2] or "(no domain)"


def sanitise_reason(reason: str) -> str:
    """One printable ASCII line short enough for a reply."""
    text = "".join(ch if " " <= ch <= "~" else " " for ch in reason)
    return " ".join(text.split())[:MAX_REASON_CHARS]


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves so that port 0 yields a known port before the loop starts."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a host name: resolved as IPv4, like smtplib's default
        family = socket.AF_INET
    return socket.create_server((host, port), family=family)


def _connectable_host(host: str) -> str:
    """Where the controller's start-up probe connects: the wildcard addresses mean loopback."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 (mapping it)


class _Controller(Controller):
    """aiosmtpd's threaded controller serving our own SMTP or LMTP protocol on a pre-bound socket."""

    def __init__(self, handler: _Handler, *, sock: socket.socket, lmtp: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sock = sock
        self._lmtp = lmtp

    def factory(self) -> SMTP:
        server_class = _LMTPServer if self._lmtp else _SMTPServer
        return server_class(self.handler, loop=self.loop, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


END_OF_DATA: Final = b"\r\n.\r\n"  # RFC 5321 section 4.1.1.4: a line holding only a period ends the data


class _SMTPServer(SMTP):
    """aiosmtpd's SMTP with enhanced status codes on its own size replies, long lines accepted, and DATA read in
    chunks rather than line by line (aiosmtpd awaits once per line: most of the listener's own CPU time)."""

    line_length_limit = LINE_LENGTH_LIMIT

    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._replies_per_data = 1

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 (aiosmtpd dispatches on this name)
        """aiosmtpd's DATA command with the data section read by `read_data_section`; same replies and states."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if self.envelope is None or not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        if isinstance(self, LMTP):
            self._replies_per_data = max(1, len(self.envelope.rcpt_tos))
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            try:
                section = await read_data_section(self._reader, self.data_size_limit)
            except (asyncio.CancelledError, asyncio.IncompleteReadError):
                log.info("connection lost during DATA")
                self._writer.close()
                raise
            if section.too_big or _has_line_longer_than(section.content, self.line_length_limit):
                await self.push(REPLY_TOO_BIG if section.too_big else REPLY_LINE_TOO_LONG, per_recipient=True)
                self._set_post_data_state()  # type: ignore[no-untyped-call]
                return
            self.envelope.content = self.envelope.original_content = section.content
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push("250 OK" if status is MISSING else status)
        finally:
            self._replies_per_data = 1

    async def push(self, status: str | bytes, *, per_recipient: bool = False) -> None:
        if isinstance(status, bytes):
            await super().push(status)
            return
        if status == _AIOSMTPD_SIZE_AT_MAIL:
            status = REPLY_TOO_BIG
        elif per_recipient:
            status = "\r\n".join([status] * self._replies_per_data)
        await super().push(status)


@dataclass(frozen=True, slots=True)
class DataSection:
    content: bytes  # the message as sent, transparency dots removed (RFC 5321 section 4.5.2)
    too_big: bool  # more than the limit arrived; the content is then empty (it was discarded while reading)


async def read_data_section(reader: asyncio.StreamReader, limit: int | None) -> DataSection:
    """Read up to and including the end-of-data line, leaving anything the client sent after it in the reader.

    Searches the stream for CRLF "." CRLF with `readuntil` (a C search over the buffer, one await per network
    read). The CRLF before the first line is the DATA command's own, so the search starts with it in hand; a
    terminator split between two reads is found by completing a partial one with `readexactly`. Beyond `limit`
    the data is dropped as it arrives (the tail kept for the search) and `too_big` reported.
    """
    buffer = bytearray(b"\r\n")
    received = 0
    too_big = False
    while True:
        partial = _partial_terminator(buffer)
        try:
            if partial:
                chunk = await reader.readexactly(len(END_OF_DATA) - partial)
            else:
                chunk = await reader.readuntil(END_OF_DATA)
        except asyncio.LimitOverrunError as e:  # no terminator within the reader's limit yet: take what is safe
            chunk = await reader.readexactly(e.consumed)
        buffer += chunk
        received += len(chunk)
        too_big = too_big or bool(limit and received - len(b".\r\n") > limit)  # the lines, stuffed, as aiosmtpd
        if buffer.endswith(END_OF_DATA):
            break
        if too_big:
            del buffer[: -len(END_OF_DATA)]  # keep enough to recognise a terminator split over reads
    if too_big:
        return DataSection(b"", too_big=True)
    del buffer[-3:]  # the "." CRLF line; the CRLF before it ends the last line of the message
    return DataSection(bytes(buffer).replace(b"\r\n.", b"\r\n")[2:], too_big=False)


def _partial_terminator(buffer: bytearray) -> int:
    """How many bytes at the end of `buffer` begin the end-of-data sequence (0 to 4)."""
    for size in range(len(END_OF_DATA) - 1, 0, -1):
        if buffer.endswith(END_OF_DATA[:size]):
            return size
    return 0


def _has_line_longer_than(content: bytes, limit: int) -> bool:
    """Any line (CRLF-terminated, as the protocol counts them) over `limit` bytes, its CRLF included."""
    if len(content) <= limit:
        return False
    return any(len(line) + 2 > limit for line in content.split(b"\r\n"))


class _LMTPServer(_SMTPServer, LMTP):
    """The same for LMTP (RFC 2033): LHLO instead of EHLO, one DATA reply per recipient."""
