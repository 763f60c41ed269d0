"""A thread-safe pool of open SMTP connections to one server, each reused for many messages."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType

from postroom.mail.transport.smtp_connect import open_connection
from postroom.mail.transport.smtp_outcome import result_for_error
from postroom.mail.transport.smtp_transaction import ConnectionLost, send_transaction
from postroom.mail.transport.smtp_values import SendResult, SmtpConfigError, SmtpSettings, TokenProvider

log = logging.getLogger(__name__)

# What talking to a server can raise besides our own ConnectionLost; anything else is a bug and propagates.
_NETWORK_ERRORS = (smtplib.SMTPException, OSError, UnicodeError)


@dataclass(slots=True)
class _Pooled:
    conn: smtplib.SMTP
    messages: int = 0
    last_used: float = 0.0


class SmtpPool:
    """Up to `size` connections to one server, shared by any number of threads.

    `send` borrows an idle connection (or opens one; it waits while `size` are busy), runs one transaction
    and gives the connection back. A connection is replaced after `max_messages_per_connection` messages,
    when it sat idle for more than `idle_seconds` by `clock`, or when it broke. A reused connection that
    turns out dead before DATA (the server timed it out or restarted) is replaced once, transparently; a
    connection lost after DATA started is reported as DEFERRED, since the message may have arrived.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        size: int = 4,
        token_provider: TokenProvider | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise SmtpConfigError("the SMTP pool size must be at least 1")
        if settings.auth_mechanism == "xoauth2" and token_provider is None:
            raise SmtpConfigError("SMTP auth mechanism 'xoauth2' needs a token provider")
        self.settings = settings
        self.size = size
        self._token_provider = token_provider
        self._clock = clock
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Pooled] = []  # most recently used last
        self._lock = threading.Lock()
        self._closed = False
        self._secrets = tuple(s for s in (settings.password,) if s)

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> SendResult:
        """Send one message; never raises for anything the server or the network did."""
        with self._slot():
            pooled = self._take_idle()
            reused = pooled is not None
            if pooled is None:
                opened = self._open()
                if isinstance(opened, SendResult):
                    return opened
                pooled = opened
            result = self._send_on(pooled, envelope_from, recipients, raw)
            if isinstance(result, ConnectionLost):
                if not reused or result.content_sent:
                    return result.result or self._classify(result.error)
                log.info("pooled SMTP connection to %s was stale; reconnecting once", self.settings.host)
                opened = self._open()
                if isinstance(opened, SendResult):
                    return opened
                pooled = opened
                result = self._send_on(pooled, envelope_from, recipients, raw)
                if isinstance(result, ConnectionLost):
                    return result.result or self._classify(result.error)
            self._give_back(pooled)
            return result

    def close(self) -> None:
        """QUIT the idle connections; busy ones are closed when their send returns. Later sends raise."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for pooled in idle:
            _quit(pooled.conn)

    def __enter__(self) -> SmtpPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if self._closed:
            raise RuntimeError("the SMTP pool is closed")
        self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    def _take_idle(self) -> _Pooled | None:
        """The most recently used live connection; the ones idle for too long are closed on the way."""
        expired: list[_Pooled] = []
        taken: _Pooled | None = None
        now = self._clock()
        with self._lock:
            fresh = [p for p in self._idle if now - p.last_used <= self.settings.idle_seconds]
            expired = [p for p in self._idle if now - p.last_used > self.settings.idle_seconds]
            self._idle = fresh
            if fresh:
                taken = fresh.pop()
        for pooled in expired:
            _quit(pooled.conn)
        return taken

    def _give_back(self, pooled: _Pooled) -> None:
        pooled.messages += 1
        pooled.last_used = self._clock()
        keep = pooled.conn.sock is not None and pooled.messages < self.settings.max_messages_per_connection
        with self._lock:
            if keep and not self._closed:
                self._idle.append(pooled)
                return
        _quit(pooled.conn)

    def _open(self) -> _Pooled | SendResult:
        try:
            return _Pooled(open_connection(self.settings, self._token_provider))
        except Exception as e:  # classified; one that is not (a bug) is raised again by result_for_error
            return self._classify(e)

    def _send_on(
        self, pooled: _Pooled, envelope_from: str, recipients: Sequence[str], raw: bytes
    ) -> SendResult | ConnectionLost:
        try:
            return send_transaction(pooled.conn, envelope_from, recipients, raw)
        except ConnectionLost as lost:
            return lost
        except _NETWORK_ERRORS as e:
            pooled.conn.close()
            return self._classify(e)

    def _classify(self, error: BaseException) -> SendResult:
        return result_for_error(error, self.settings, secrets=self._secrets)


def _quit(conn: smtplib.SMTP) -> None:
    """Say goodbye if the server still listens; close the socket either way."""
    if conn.sock is not None:
        with contextlib.suppress(*_NETWORK_ERRORS):
            conn.quit()
    conn.close()
