"""Reads new mail from IMAP folders: verified TLS, login, UID fetch without \\Seen, post-actions, IDLE.

No Django and no database here: the orchestrator (postroom.connectors) decides what is new (a cursor per folder),
commits the raw bytes, and only then calls `apply_post_action`. Nothing in this module changes a message on the
server before that call: the fetch uses BODY.PEEK[] (RFC 9051 section 6.4.5), which never sets \\Seen.

TLS is implicit (RFC 8314) or STARTTLS (RFC 9051 section 6.2.1), always verified against the system store plus an
optional CA bundle; a server that does not offer STARTTLS is refused, never used in plaintext. The host passes the
SSRF guard (netguard) and the connection goes to exactly the addresses it checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import re
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from postroom.mail.errors import PermanentError, TransientError
from postroom.mail.transport.mailbox_endpoint import (
    describe_connection_error,
    describe_untrusted_certificate,
    open_guarded_socket,
    prepare_endpoint,
)
from postroom.mail.transport.proxy import ProxySettings
from postroom.mail.transport.sasl_oauth import SASL_NAMES, OAuthMechanism
from postroom.mail.transport.token_source import StaticToken, TokenSource

ImapTls = Literal["implicit", "starttls", "none"]
PostAction = Literal["keep", "seen", "move", "delete"]
POST_ACTIONS: Final[tuple[PostAction, ...]] = ("keep", "seen", "move", "delete")

# RFC 2177 section 3: a client re-issues IDLE at least every 29 minutes, or the server may log it out as idle.
IDLE_REISSUE_SECONDS: Final = 25 * 60.0
# How often an IDLE wait looks at the stop flag (seconds); new mail wakes it at once, this only bounds a stop.
IDLE_TICK_SECONDS: Final = 1.0
_BYTES_REPR: Final = re.compile(r"^b'(.*)'$")
SEEN: Final = b"\\Seen"
DELETED: Final = b"\\Deleted"


class ImapError(TransientError):
    """The server or the network failed; the next cycle tries again (the message is one plain line)."""


class ImapSetupError(PermanentError):
    """Retrying the same settings will not help: TLS refused, login refused, host refused, folder missing."""


@dataclass(frozen=True, slots=True)
class ImapEndpoint:
    """Where to connect and how: nothing secret. `ca_file` adds trust anchors; it never turns checks off."""

    host: str
    port: int
    tls: ImapTls
    username: str
    ca_file: str | None = None
    timeout_seconds: float = 30.0  # connect and every read outside IDLE
    allow_private: bool = False  # SSRF guard: loopback and private networks only when the operator allows
    pins: tuple[str, ...] = ()  # SHA-256 public-key pins checked after verification (mail/transport/tlspin.py)
    proxy: ProxySettings | None = None  # the operator's proxy this mailbox goes through (mail/transport/proxy.py)


@dataclass(frozen=True, slots=True)
class ImapCredentials:
    """A password, or an OAuth 2.0 bearer token for AUTHENTICATE XOAUTH2 or OAUTHBEARER (RFC 7628): a fixed
    `access_token`, or a `token_source` that refreshes it (the source wins, then the token, then the password)."""

    password: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    token_source: TokenSource | None = field(default=None, repr=False)
    mechanism: OAuthMechanism = "xoauth2"


@dataclass(frozen=True, slots=True)
class FolderState:
    """What SELECT said: the UIDVALIDITY that scopes every UID (RFC 9051 section 2.3.1.1), and UIDNEXT."""

    uidvalidity: int
    uidnext: int
    exists: int


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    uid: int
    raw: bytes = field(repr=False)
    internal_date: dt.datetime | None  # aware; when the server received it (for the lag)


class GuardedIMAP4(imaplib.IMAP4):
    """imaplib's connection, opened to addresses the SSRF guard checked (TLS wrapped at once when implicit)."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[str],
        timeout: float,
        context: ssl.SSLContext | None,
        *,
        proxy: ProxySettings | None = None,
    ) -> None:
        self._addresses = tuple(addresses)
        self._context = context
        self._proxy = proxy
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout: float | None) -> Any:
        return open_guarded_socket(
            self._addresses, self.host, self.port, timeout or 30.0, context=self._context, proxy=self._proxy
        )


class _Client(IMAPClient):  # type: ignore[misc]  # imapclient ships no type information
    """IMAPClient on a connection we opened (IMAPClient's own would resolve the host again, past the guard)."""

    def __init__(self, prepared: imaplib.IMAP4, endpoint: ImapEndpoint) -> None:
        self._prepared = prepared
        super().__init__(endpoint.host, endpoint.port, ssl=endpoint.tls == "implicit", timeout=endpoint.timeout_seconds)

    def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 (overrides IMAPClient's name)
        return self._prepared


def describe_error(error: BaseException) -> str:
    """One plain line for the health record and the alert (no secrets: the library never echoes them)."""
    if isinstance(error, ImapError | ImapSetupError):
        return str(error)
    return describe_connection_error(error)


class ImapSession:
    """One logged-in connection, reused across cycles; `open_session` makes it."""

    def __init__(self, client: Any, endpoint: ImapEndpoint) -> None:
        self.client = client
        self.endpoint = endpoint
        self.selected: str | None = None

    @property
    def has_idle(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    def select(self, folder: str) -> FolderState:
        """SELECT a folder (read-write: the post-actions change flags); its UIDVALIDITY and UIDNEXT."""
        try:
            answer = self.client.select_folder(folder)
        except IMAPClient.Error as e:
            if isinstance(e, IMAPClient.AbortError):
                raise
            raise ImapSetupError(f"cannot open folder {folder!r}: {describe_error(e)}") from e
        self.selected = folder
        uidvalidity = int(answer.get(b"UIDVALIDITY", 0))
        if uidvalidity <= 0:  # RFC 9051 requires it; without it UIDs mean nothing across sessions
            raise ImapSetupError(f"the server sent no UIDVALIDITY for {folder!r}; UIDs cannot be trusted")
        return FolderState(uidvalidity, int(answer.get(b"UIDNEXT", 0)), int(answer.get(b"EXISTS", 0)))

    def find_uids_after(self, last_uid: int, limit: int) -> list[int]:
        """The lowest `limit` UIDs above `last_uid`, ascending.

        "n:*" always matches the highest UID even when it is below n (RFC 9051 section 6.4.4), hence the filter.
        """
        uids = sorted(uid for uid in self.client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
        return uids[:limit]

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """Raw bytes and internal dates, in UID order, without setting \\Seen (BODY.PEEK[])."""
        if not uids:
            return []
        self.client.normalise_times = False  # aware datetimes, not the local clock's naive ones
        answer = self.client.fetch(list(uids), [b"BODY.PEEK[]", b"INTERNALDATE"])
        out = []
        for uid in sorted(answer):
            item = answer[uid]
            raw = item.get(b"BODY[]")
            if raw is None:  # expunged between SEARCH and FETCH: nothing to take
                continue
            when = item.get(b"INTERNALDATE")
            out.append(FetchedMessage(int(uid), bytes(raw), when if isinstance(when, dt.datetime) else None))
        return out

    def apply_post_action(self, uids: Sequence[int], action: PostAction, move_to: str = "") -> None:
        """After the commit: mark seen, move (MOVE, RFC 6851; else COPY + \\Deleted + UID EXPUNGE), delete, or keep.

        Without UIDPLUS (RFC 4315) a plain EXPUNGE also removes other messages already flagged \\Deleted.
        """
        if not uids or action == "keep":
            return
        ids = list(uids)
        if action == "seen":
            self.client.add_flags(ids, [SEEN], silent=True)
        elif action == "move":
            if not move_to:
                raise ImapSetupError("post-action 'move' needs a folder (settings move_to)")
            if self.client.has_capability("MOVE"):
                self.client.move(ids, move_to)
            else:
                self.client.copy(ids, move_to)
                self._expunge(ids)
        elif action == "delete":
            self._expunge(ids)
        else:
            raise ImapSetupError(f"unknown post-action {action!r}")

    def _expunge(self, uids: list[int]) -> None:
        self.client.add_flags(uids, [DELETED], silent=True)
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge(uids)
        else:
            self.client.expunge()

    def wait_for_mail(self, stop: threading.Event, timeout: float = IDLE_REISSUE_SECONDS) -> bool:
        """IDLE (RFC 2177) on the selected folder until new mail (True), `timeout`, a stop, or a quiet wake (False).

        The caller fetches after every return, so a missed notification costs at most one IDLE period. A wake with
        nothing readable (a TLS record, or a dead socket) ends the IDLE: DONE then fails on a dead connection.
        """
        if self.selected is None:
            raise ImapError("IDLE needs a selected folder")
        deadline = time.monotonic() + timeout
        self.client.idle()
        arrived = False
        try:
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                tick = min(IDLE_TICK_SECONDS, remaining)
                started = time.monotonic()
                responses = self.client.idle_check(timeout=tick)
                if any(_is_bye(r) for r in responses):
                    raise ImapError("the server ended the session during IDLE")
                if any(_is_new_mail(r) for r in responses):
                    arrived = True
                    break
                if not responses and time.monotonic() - started < tick / 2:
                    break  # woke with nothing to read: check the connection with DONE
        finally:
            self.client.idle_done()
        return arrived

    def close(self) -> None:
        """LOGOUT, or drop the socket when the session is already broken."""
        try:
            self.client.logout()
        except Exception:  # a broken session: closing the socket is all that is left
            _drop(self.client)


def _is_new_mail(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and response[1] in {b"EXISTS", b"RECENT"}


def _is_bye(response: tuple[Any, ...]) -> bool:
    return len(response) >= 1 and response[0] == b"BYE"


def open_session(endpoint: ImapEndpoint, credentials: ImapCredentials) -> ImapSession:
    """Connect (implicit TLS, or STARTTLS before anything else is said), verify, log in; raise on any failure."""
    where = f"{endpoint.host} port {endpoint.port}"
    checked, context = prepare_endpoint(
        endpoint.host,
        endpoint.port,
        endpoint.tls,
        endpoint.ca_file,
        allow_private=endpoint.allow_private,
        setup_error=ImapSetupError,
        pins=endpoint.pins,
        error=ImapError,
    )
    try:
        prepared = GuardedIMAP4(
            endpoint.host,
            endpoint.port,
            checked.addresses,
            endpoint.timeout_seconds,
            context if endpoint.tls == "implicit" else None,
            proxy=endpoint.proxy,
        )
    except ssl.SSLCertVerificationError as e:
        raise ImapSetupError(f"TLS refused: {where}: {describe_untrusted_certificate(e, endpoint.ca_file)}") from e
    except (OSError, imaplib.IMAP4.error) as e:
        raise ImapError(f"cannot connect to {where}: {describe_error(e)}") from e
    client = _Client(prepared, endpoint)
    try:
        if endpoint.tls == "starttls":
            _start_tls(client, context, endpoint, where)
        _log_in(client, endpoint, credentials, where)
    except BaseException:
        _drop(client)
        raise
    return ImapSession(client, endpoint)


def _start_tls(client: Any, context: ssl.SSLContext | None, endpoint: ImapEndpoint, where: str) -> None:
    if not client.has_capability("STARTTLS"):
        raise ImapSetupError(f"{where} does not offer STARTTLS, which is required; nothing was sent")
    try:
        client.starttls(context)
    except ssl.SSLCertVerificationError as e:
        raise ImapSetupError(f"TLS refused: {where}: {describe_untrusted_certificate(e, endpoint.ca_file)}") from e
    # IMAPClient asks for CAPABILITY again after STARTTLS (RFC 9051 section 6.2.1: earlier ones are void).


def _log_in(client: Any, endpoint: ImapEndpoint, credentials: ImapCredentials, where: str) -> None:
    """LOGIN, or AUTHENTICATE with a bearer token; a refused token from a token source is replaced once."""
    if credentials.token_source is None and not credentials.access_token:
        try:
            client.login(endpoint.username, credentials.password)
        except LoginError as e:
            said = _BYTES_REPR.sub(r"\1", str(e))  # IMAPClient shows the server's words as b'...'
            raise ImapSetupError(f"{where} refused the password login of {endpoint.username}: {said}") from e
        return
    source = credentials.token_source or StaticToken(credentials.access_token)
    attempts = 2 if credentials.token_source is not None else 1
    for attempt in range(attempts):
        token = source.access_token()
        try:
            if credentials.mechanism == "oauthbearer":
                client.oauthbearer_login(endpoint.username, token)
            else:
                client.oauth2_login(endpoint.username, token)
        except LoginError as e:
            if attempt + 1 < attempts:
                source.invalidate()  # revoked early, or the server's clock is ahead: one more try with a new one
                continue
            said = _BYTES_REPR.sub(r"\1", str(e)).replace(token, "[redacted]")
            how = SASL_NAMES[credentials.mechanism]
            raise ImapSetupError(f"{where} refused the {how} login of {endpoint.username}: {said}") from e
        return


def _drop(client: Any) -> None:
    with contextlib.suppress(Exception):  # already closed
        client.shutdown()
