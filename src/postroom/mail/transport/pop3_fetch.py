"""Reads mail from a POP3 maildrop (RFC 1939): verified TLS, login, UIDL listing, RETR, and DELE only when told.

No Django and no database here: the orchestrator (postroom.connectors.pop3_sync) decides which UIDLs are new (the
inbound ledger knows the ones already received), commits the raw bytes, and only then calls `delete`. RETR never
changes the maildrop, and DELE only marks a message: the server removes marked messages when the session ends
with QUIT (the UPDATE state, RFC 1939 section 6). A session that breaks before QUIT removes nothing.

TLS is implicit (POP3S, RFC 8314) or STLS before anything else is said (RFC 2595 section 4), always verified
against the system store plus an optional CA bundle; a server that does not offer STLS is refused, never used in
plaintext (mode "none" only to a loopback host, as for IMAP). The host passes the SSRF guard (netguard) and the
connection goes to exactly the addresses it checked. Login is USER/PASS (RFC 1939 section 7), or AUTH XOAUTH2
(RFC 5034 SASL with the XOAUTH2 mechanism of Google and Microsoft) or OAUTHBEARER (RFC 7628) with a bearer token.
"""

from __future__ import annotations

import contextlib
import poplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from postroom.mail.errors import PermanentError, TransientError
from postroom.mail.transport.mailbox_endpoint import (
    describe_connection_error,
    describe_untrusted_certificate,
    open_guarded_socket,
    prepare_endpoint,
)
from postroom.mail.transport.proxy import ProxySettings
from postroom.mail.transport.sasl_oauth import (
    ERROR_ACKNOWLEDGEMENT,
    SASL_NAMES,
    OAuthMechanism,
    build_client_response,
    encode_response,
)
from postroom.mail.transport.token_source import StaticToken, TokenSource

Pop3Tls = Literal["implicit", "starttls", "none"]
Pop3PostAction = Literal["keep", "delete"]
POP3_POST_ACTIONS: Final[tuple[Pop3PostAction, ...]] = ("keep", "delete")

# poplib refuses lines over 2048 bytes; real mail has longer ones (unwrapped HTML), so a line may be this long.
MAX_LINE_BYTES: Final = 1024 * 1024
# RFC 1939 section 7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E.
MAX_UIDL_LENGTH: Final = 70


class Pop3Error(TransientError):
    """The server or the network failed; the next cycle tries again (the message is one plain line)."""


class Pop3SetupError(PermanentError):
    """Retrying the same settings will not help: TLS refused, login refused, host refused, no UIDL."""


@dataclass(frozen=True, slots=True)
class Pop3Endpoint:
    """Where to connect and how: nothing secret. `ca_file` adds trust anchors; it never turns checks off."""

    host: str
    port: int
    tls: Pop3Tls
    username: str
    ca_file: str | None = None
    timeout_seconds: float = 30.0  # connect and every read
    allow_private: bool = False  # SSRF guard: loopback and private networks only when the operator allows
    pins: tuple[str, ...] = ()  # SHA-256 public-key pins checked after verification (mail/transport/tlspin.py)
    proxy: ProxySettings | None = None  # the operator's proxy this mailbox goes through (mail/transport/proxy.py)


@dataclass(frozen=True, slots=True)
class Pop3Credentials:
    """A password, or an OAuth 2.0 bearer token for AUTH XOAUTH2 or OAUTHBEARER (RFC 7628): a fixed
    `access_token`, or a `token_source` that refreshes it (the source wins, then the token, then the password)."""

    password: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    token_source: TokenSource | None = field(default=None, repr=False)
    mechanism: OAuthMechanism = "xoauth2"


@dataclass(frozen=True, slots=True)
class ListedMessage:
    """One line of UIDL: the message number (valid for this session only) and its unique-id (valid across them)."""

    number: int
    uidl: str


@dataclass(frozen=True, slots=True)
class RetrievedMessage:
    number: int
    uidl: str
    raw: bytes = field(repr=False)


class GuardedPOP3(poplib.POP3):
    """poplib's connection, opened to addresses the SSRF guard checked (TLS wrapped at once when implicit)."""

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

    def _create_socket(self, timeout: float) -> socket.socket:
        return open_guarded_socket(
            self._addresses, self.host, self.port, timeout, context=self._context, proxy=self._proxy
        )

    def _getline(self) -> tuple[bytes, int]:
        """poplib's line reader with a larger limit (see MAX_LINE_BYTES); CRLF, LF or CR...LF endings stripped."""
        line = self.file.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise poplib.error_proto("-ERR line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


def describe_error(error: BaseException) -> str:
    """One plain line for the health record and the alert (no secrets: the server's replies never echo them)."""
    if isinstance(error, Pop3Error | Pop3SetupError):
        return str(error)
    if isinstance(error, poplib.error_proto):
        return f"the server answered: {_said(error)}"[:500]
    return describe_connection_error(error)


class Pop3Session:
    """One logged-in session. Message numbers hold for it alone; `quit` applies the DELEs, `close` drops them."""

    def __init__(self, conn: poplib.POP3, endpoint: Pop3Endpoint) -> None:
        self.conn = conn
        self.endpoint = endpoint
        self.deleted: set[int] = set()

    def list_messages(self) -> list[ListedMessage]:
        """Every message of the maildrop with its unique-id (UIDL, RFC 1939 section 7), in message-number order."""
        try:
            _, lines, _ = self.conn.uidl()
        except poplib.error_proto as e:
            raise Pop3SetupError(
                f"{self.endpoint.host} does not support UIDL ({_said(e)}): messages cannot be told apart across "
                "sessions, so POP3 cannot be read safely"
            ) from e
        listed = []
        for line in lines:
            parts = line.split()
            if len(parts) != 2 or not parts[0].isdigit():
                raise Pop3Error(f"unexpected UIDL line from {self.endpoint.host}: {line[:100]!r}")
            uidl = parts[1].decode("ascii", "replace")
            if not 0 < len(uidl) <= MAX_UIDL_LENGTH or not all(0x21 <= b <= 0x7E for b in parts[1]):
                raise Pop3Error(f"invalid unique-id in UIDL from {self.endpoint.host}: {parts[1][:100]!r}")
            listed.append(ListedMessage(int(parts[0]), uidl))
        return sorted(listed, key=lambda m: m.number)

    def retrieve(self, messages: Sequence[ListedMessage]) -> list[RetrievedMessage]:
        """RETR each message (the maildrop is not changed); the raw bytes with CRLF line ends, dot-unstuffed."""
        out = []
        for message in messages:
            _, lines, _ = self.conn.retr(message.number)
            raw = b"\r\n".join(lines) + b"\r\n" if lines else b""
            out.append(RetrievedMessage(message.number, message.uidl, raw))
        return out

    def delete(self, numbers: Sequence[int]) -> None:
        """DELE (mark) each message; the server removes them only when `quit` ends the session."""
        for number in numbers:
            if number not in self.deleted:
                self.conn.dele(number)
                self.deleted.add(number)

    def quit(self) -> None:
        """QUIT: the server enters the UPDATE state and removes the marked messages (RFC 1939 section 6).

        A -ERR here means the server could not remove some of them; they stay and are deleted next time.
        """
        try:
            self.conn.quit()
        except poplib.error_proto as e:
            self.close()
            raise Pop3Error(f"{self.endpoint.host} could not remove the deleted messages: {_said(e)}") from e
        finally:
            self.deleted.clear()

    def close(self) -> None:
        """Drop the connection without QUIT: messages marked with DELE stay on the server (nothing is removed)."""
        with contextlib.suppress(Exception):
            self.conn.close()
        self.deleted.clear()


def open_session(endpoint: Pop3Endpoint, credentials: Pop3Credentials) -> Pop3Session:
    """Connect (implicit TLS, or STLS before anything else is said), verify, log in; raise on any failure."""
    where = f"{endpoint.host} port {endpoint.port}"
    checked, context = prepare_endpoint(
        endpoint.host,
        endpoint.port,
        endpoint.tls,
        endpoint.ca_file,
        allow_private=endpoint.allow_private,
        setup_error=Pop3SetupError,
        pins=endpoint.pins,
        error=Pop3Error,
    )
    try:
        conn = GuardedPOP3(
            endpoint.host,
            endpoint.port,
            checked.addresses,
            endpoint.timeout_seconds,
            context if endpoint.tls == "implicit" else None,
            proxy=endpoint.proxy,
        )
    except ssl.SSLCertVerificationError as e:
        raise Pop3SetupError(f"TLS refused: {where}: {describe_untrusted_certificate(e, endpoint.ca_file)}") from e
    except (OSError, poplib.error_proto) as e:
        raise Pop3Error(f"cannot connect to {where}: {describe_error(e)}") from e
    try:
        if endpoint.tls == "starttls":
            _start_tls(conn, context, endpoint, where)
        _log_in(conn, endpoint, credentials, where)
    except BaseException:
        with contextlib.suppress(Exception):
            conn.close()
        raise
    return Pop3Session(conn, endpoint)


def _start_tls(conn: poplib.POP3, context: ssl.SSLContext | None, endpoint: Pop3Endpoint, where: str) -> None:
    try:
        capabilities = conn.capa()
    except poplib.error_proto:  # CAPA is optional (RFC 2449); without it there is no STLS either
        capabilities = {}
    if "STLS" not in capabilities:
        raise Pop3SetupError(f"{where} does not offer STLS, which is required; nothing was sent")
    try:
        conn.stls(context=context)
    except ssl.SSLCertVerificationError as e:
        raise Pop3SetupError(f"TLS refused: {where}: {describe_untrusted_certificate(e, endpoint.ca_file)}") from e
    except (OSError, poplib.error_proto) as e:
        raise Pop3Error(f"STLS failed with {where}: {describe_error(e)}") from e


def _log_in(conn: poplib.POP3, endpoint: Pop3Endpoint, credentials: Pop3Credentials, where: str) -> None:
    """USER/PASS, or AUTH with a bearer token; a refused token from a token source is replaced once."""
    oauth = credentials.token_source is not None or bool(credentials.access_token)
    how = SASL_NAMES[credentials.mechanism] if oauth else "password"
    source = credentials.token_source or StaticToken(credentials.access_token)
    attempts = 2 if credentials.token_source is not None else 1
    for attempt in range(attempts):
        secret = source.access_token() if oauth else credentials.password
        try:
            if oauth:
                _auth_oauth(conn, credentials.mechanism, endpoint, secret)
            else:
                conn.user(endpoint.username)
                conn.pass_(credentials.password)
        except poplib.error_proto as e:
            if oauth and attempt + 1 < attempts:
                source.invalidate()  # revoked early, or the server's clock is ahead: one more try with a new one
                continue
            said = _said(e)
            for value in (secret, credentials.password, credentials.access_token):
                if value:
                    said = said.replace(value, "[redacted]")
            raise Pop3SetupError(f"{where} refused the {how} login of {endpoint.username}: {said}") from e
        return


def _auth_oauth(conn: poplib.POP3, mechanism: OAuthMechanism, endpoint: Pop3Endpoint, token: str) -> None:
    """AUTH XOAUTH2 or OAUTHBEARER (RFC 5034 section 4): the mechanism, then the SASL response after the "+" prompt.

    On failure the server answers with a "+ <base64 JSON>" error challenge first (RFC 7628 section 3.2.2); the
    acknowledgement the mechanism prescribes ends the exchange with -ERR (raised by poplib).
    """
    name = SASL_NAMES[mechanism]
    response = encode_response(build_client_response(mechanism, endpoint.username, token, endpoint.host, endpoint.port))
    command: Callable[[str], bytes] = conn._shortcmd  # type: ignore[attr-defined]  # poplib's, untyped in typeshed
    command(f"AUTH {name}")  # a "+ " continuation (poplib accepts any reply starting with "+")
    answer = command(response)
    if not answer.startswith(b"+OK"):
        command(encode_response(ERROR_ACKNOWLEDGEMENT[mechanism]))  # the server then sends its -ERR (raised)
        raise poplib.error_proto(f"-ERR {name} was not accepted".encode())


def _said(error: BaseException) -> str:
    item = error.args[0] if error.args else ""
    text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    return " ".join(text.split())[:300]
