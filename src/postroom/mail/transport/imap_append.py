"""Appends one message to an IMAP folder (a copy of a sent reply into the mailbox's "Sent"), over verified TLS."""

from __future__ import annotations

import base64
import datetime as dt
import imaplib
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from postroom.mail.errors import MailError, PermanentError
from postroom.mail.transport.smtp_connect import build_tls_context
from postroom.mail.transport.smtp_values import is_loopback_host

log = logging.getLogger(__name__)

ImapTls = Literal["implicit", "starttls", "none"]
IMAP_TLS_MODES: Final[tuple[ImapTls, ...]] = ("implicit", "starttls", "none")
DEFAULT_IMAP_PORT: Final[dict[str, int]] = {"implicit": 993, "starttls": 143, "none": 143}  # RFC 8314, RFC 3501
_QUOTABLE: Final = re.compile(r"[\x20-\x7e]*")  # what a quoted string may hold (RFC 3501 section 9, "quoted")


class ImapConfigError(PermanentError, ValueError):
    """The IMAP settings can never work (e.g. plaintext to a remote host); raised before any connection."""


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """Where and how to log in to an IMAP server. Certificate verification is always on.

    `ca_file` adds a trust anchor to the system ones (a private or test CA); it never turns checks off.
    """

    host: str
    port: int
    tls: ImapTls
    username: str
    password: str = field(repr=False)
    ca_file: str | None = None
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ImapConfigError("IMAP host is empty")
        if not 0 < self.port < 65536:
            raise ImapConfigError(f"IMAP port {self.port} is out of range")
        if self.tls not in IMAP_TLS_MODES:
            raise ImapConfigError(f"unknown IMAP TLS mode {self.tls!r}: use implicit, starttls or none")
        if self.tls == "none" and not is_loopback_host(self.host):
            raise ImapConfigError(
                f"TLS mode 'none' is only allowed to a loopback host, not {self.host}: use starttls or implicit"
            )
        if not self.username:
            raise ImapConfigError("IMAP username is empty")
        if self.timeout_seconds <= 0:
            raise ImapConfigError("IMAP timeout must be positive")


# The XOAUTH2 hook: returns a fresh access token for these settings; never logged.
ImapTokenProvider = Callable[[ImapSettings], str]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Whether the message is in the folder now, and a sentence for agents (never a password or token)."""

    ok: bool
    detail: str


class _Refused(Exception):  # noqa: N818 (an outcome carried out of the session, not an error of ours)
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def encode_mailbox_name(name: str) -> str:
    """The folder name in IMAP's modified UTF-7 (RFC 3501 section 5.1.3): "Entwürfe" -> "Entw&APw-rfe".

    Printable ASCII stands for itself ("&" becomes "&-"); any other run of characters becomes "&", the modified
    base64 (with "," for "/", no padding) of its UTF-16BE form, and "-".
    """
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(utf16).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if "\x20" <= char <= "\x7e":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote_imap_string(text: str) -> str:
    """A quoted string (RFC 3501 section 4.3) for ASCII text: backslash and double quote escaped."""
    if not _QUOTABLE.fullmatch(text):
        raise ValueError("a quoted IMAP string holds printable ASCII only")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def append_to_folder(
    settings: ImapSettings,
    folder: str,
    raw: bytes,
    *,
    flags: str = "\\Seen",
    when: dt.datetime | None = None,
    token_provider: ImapTokenProvider | None = None,
) -> AppendResult:
    """Log in, APPEND `raw` to `folder` (created once when the server answers [TRYCREATE]), log out.

    `folder` is the name as users see it, with the server's hierarchy separator ("Sent", "INBOX.Sent",
    "Gesendete Elemente"); `when` is the internal date (aware; default now). With `token_provider` the login is
    AUTHENTICATE XOAUTH2. Server and network failures come back as `ok=False` with the reason; only settings or
    arguments that can never work raise (ImapConfigError / ValueError).
    """
    if not folder:
        raise ValueError("the IMAP folder name is empty")
    if when is not None and when.utcoffset() is None:
        raise ValueError("the internal date must be timezone-aware")
    mailbox = quote_imap_string(encode_mailbox_name(folder))
    internal_date = when or dt.datetime.now(dt.UTC)
    secrets = [settings.password]
    where = f"{settings.host} port {settings.port}"
    try:
        conn = _connect(settings)
    except _Refused as e:
        return AppendResult(False, e.detail)
    except ssl.SSLCertVerificationError as e:
        return AppendResult(False, f"certificate verification failed for {where}: {e.verify_message or e}")
    except (OSError, imaplib.IMAP4.error, EOFError) as e:
        return AppendResult(False, f"could not connect to {where}: {_redact(_describe(e), secrets)}")
    try:
        _log_in(conn, settings, token_provider, secrets)
        detail = _append(conn, mailbox, folder, raw, flags=flags, when=internal_date)
    except _Refused as e:
        _log_out(conn)
        return AppendResult(False, e.detail)
    except (OSError, imaplib.IMAP4.error, EOFError) as e:
        _close(conn)  # the session is broken: no LOGOUT that could wait for another timeout
        return AppendResult(False, f"IMAP session with {where} failed: {_redact(_describe(e), secrets)}")
    _log_out(conn)
    log.debug("appended %d bytes to an IMAP folder on %s", len(raw), where)
    return AppendResult(True, detail)


def _connect(settings: ImapSettings) -> imaplib.IMAP4:
    """Open the connection; with STARTTLS, secure it before anything else is said (there is no fallback)."""
    context = build_tls_context(settings.ca_file)
    if settings.tls == "implicit":
        return imaplib.IMAP4_SSL(settings.host, settings.port, ssl_context=context, timeout=settings.timeout_seconds)
    conn = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout_seconds)
    if settings.tls == "starttls":
        if "STARTTLS" not in conn.capabilities:
            _close(conn)
            raise _Refused(
                f"{settings.host} port {settings.port} does not offer STARTTLS, which is required; "
                "nothing was sent (use TLS mode 'implicit' if this is port 993)"
            )
        try:
            conn.starttls(ssl_context=context)  # raises unless the server said OK and the handshake verified
        except BaseException:
            _close(conn)
            raise
    return conn


def _log_in(
    conn: imaplib.IMAP4, settings: ImapSettings, token_provider: ImapTokenProvider | None, secrets: list[str]
) -> None:
    """XOAUTH2 with a token provider; else LOGIN, or AUTHENTICATE PLAIN for non-ASCII credentials (RFC 4616)."""
    if token_provider is not None:
        token = _get_token(token_provider, settings)
        secrets.append(token)
        initial = f"user={settings.username}\x01auth=Bearer {token}\x01\x01".encode()
        _authenticate(conn, "XOAUTH2", initial, secrets)
        return
    ascii_credentials = _QUOTABLE.fullmatch(settings.username) and _QUOTABLE.fullmatch(settings.password)
    if ascii_credentials and "LOGINDISABLED" not in conn.capabilities:
        try:  # imaplib quotes the password but not the user name
            conn.login(quote_imap_string(settings.username), settings.password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:
            raise _Refused(f"login as {settings.username} refused: {_redact(_describe(e), secrets)}") from None
        return
    initial = b"\0" + settings.username.encode() + b"\0" + settings.password.encode()
    _authenticate(conn, "PLAIN", initial, secrets)


def _authenticate(conn: imaplib.IMAP4, mechanism: str, initial: bytes, secrets: list[str]) -> None:
    """One SASL exchange: the initial response, then empty answers (XOAUTH2 sends its error as a challenge)."""
    if f"AUTH={mechanism}" not in conn.capabilities:
        raise _Refused(f"the server does not offer AUTHENTICATE {mechanism}")
    answers = iter([initial])
    try:
        conn.authenticate(mechanism, lambda _challenge: next(answers, b""))
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as e:
        raise _Refused(f"AUTHENTICATE {mechanism} refused: {_redact(_describe(e), secrets)}") from None


def _get_token(token_provider: ImapTokenProvider, settings: ImapSettings) -> str:
    try:
        return token_provider(settings)
    except Exception as e:  # whatever the provider raises, the copy is skipped with a reason
        reason = str(e) if isinstance(e, MailError) else type(e).__name__
        raise _Refused(f"no OAuth access token for {settings.host}: {reason}") from None


def _append(conn: imaplib.IMAP4, mailbox: str, folder: str, raw: bytes, *, flags: str, when: dt.datetime) -> str:
    """APPEND; on [TRYCREATE] (RFC 3501 section 6.3.11) CREATE and SUBSCRIBE the folder, then APPEND once more."""
    typ, data = conn.append(mailbox, flags, when, raw)
    if typ == "OK":
        return f"appended to {folder}"
    if not _text(data).upper().startswith("[TRYCREATE]"):
        raise _Refused(f"APPEND to {folder} refused: {_text(data)}")
    typ, data = conn.create(mailbox)
    if typ != "OK":
        raise _Refused(f"folder {folder} does not exist and could not be created: {_text(data)}")
    conn.subscribe(mailbox)  # so that mail clients show it; a refusal changes nothing about the copy
    typ, data = conn.append(mailbox, flags, when, raw)
    if typ != "OK":
        raise _Refused(f"APPEND to the new folder {folder} refused: {_text(data)}")
    return f"created folder {folder} and appended to it"


def _log_out(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (OSError, imaplib.IMAP4.error, EOFError):
        _close(conn)


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.shutdown()
    except OSError:
        log.debug("closing the IMAP connection failed", exc_info=True)


def _text(data: list[Any]) -> str:
    """The server's response text from imaplib's `data` list."""
    item = data[-1] if data else ""
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _describe(error: BaseException) -> str:
    """A short reason for an exception from socket, ssl or imaplib (whose messages may be bytes)."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, EOFError):
        return "the server closed the connection"
    if isinstance(error, ssl.SSLError):
        hint = (
            " (is this a plaintext port? then use TLS mode 'starttls')"
            if error.reason == "WRONG_VERSION_NUMBER"
            else ""
        )
        return f"TLS handshake failed: {error.reason or error}{hint}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    message = error.args[0] if error.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message) or type(error).__name__


def _redact(text: str, secrets: list[str]) -> str:
    """`text` from the server or an exception, with any password or token it echoes replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
