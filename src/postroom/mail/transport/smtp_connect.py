"""Opens one ready-to-send SMTP connection: verified TLS (implicit or mandatory STARTTLS), EHLO, then AUTH."""

from __future__ import annotations

import base64
import functools
import logging
import smtplib
import socket
import ssl
from typing import Any

from postroom.mail.errors import MailError, PermanentError
from postroom.mail.transport.proxy import ProxySettings, open_tunnel
from postroom.mail.transport.sasl_oauth import (
    ERROR_ACKNOWLEDGEMENT,
    SASL_NAMES,
    OAuthMechanism,
    build_client_response,
)
from postroom.mail.transport.smtp_values import (
    RefreshableTokenProvider,
    SendResult,
    SendStatus,
    SmtpSettings,
    TlsMode,
    TokenProvider,
)

log = logging.getLogger(__name__)


class ConnectFailed(Exception):  # noqa: N818 (it carries a result, it is not an error of ours)
    """Opening the connection ended in an outcome already classified (e.g. STARTTLS not offered)."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.reply)
        self.result = result


def new_tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A new client context that verifies the chain and the host name, TLS 1.2 or newer.

    `ca_file` is added to the system trust store, never instead of verification.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@functools.lru_cache(maxsize=16)
def build_tls_context(ca_file: str | None) -> ssl.SSLContext:
    """`new_tls_context`, made once per CA file and shared between threads (never change the one returned)."""
    return new_tls_context(ca_file)


@functools.cache
def default_local_hostname() -> str:
    """The EHLO name when none is configured: the FQDN, looked up once (smtplib would look it up per connection)."""
    return socket.getfqdn() or "localhost"


class _ProxiedSMTP(smtplib.SMTP):
    """smtplib's client, its socket opened through the mailbox's proxy when it has one (mail/transport/proxy.py)."""

    def __init__(self, *args: Any, proxy: ProxySettings | None = None, **kwargs: Any) -> None:
        self._proxy = proxy  # set before smtplib connects from its __init__
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        if self._proxy is None:
            return super()._get_socket(host, port, timeout)  # type: ignore[misc, no-any-return]
        return open_tunnel(self._proxy, host, port, timeout)


class _ProxiedSMTPSSL(smtplib.SMTP_SSL):
    """SMTP over implicit TLS (RFC 8314), through the proxy when there is one; TLS runs end to end."""

    def __init__(self, *args: Any, proxy: ProxySettings | None = None, **kwargs: Any) -> None:
        self._proxy = proxy
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        if self._proxy is None:
            return super()._get_socket(host, port, timeout)  # type: ignore[misc, no-any-return]
        sock = open_tunnel(self._proxy, host, port, timeout)
        try:
            return self.context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise


def open_connection(settings: SmtpSettings, token_provider: TokenProvider | None = None) -> smtplib.SMTP:
    """Connect, secure, greet and authenticate; raise on any failure with the socket closed.

    Raises ConnectFailed for outcomes decided here (STARTTLS missing, no usable AUTH), and lets smtplib's,
    ssl's and socket's exceptions through for `smtp_outcome.result_for_error` to classify.
    """
    local_hostname = settings.local_hostname or default_local_hostname()
    conn: smtplib.SMTP
    if settings.tls is TlsMode.IMPLICIT:
        conn = _ProxiedSMTPSSL(
            settings.host,
            settings.port,
            local_hostname=local_hostname,
            timeout=settings.timeout_seconds,
            context=build_tls_context(settings.ca_file),
            proxy=settings.proxy,
        )
    else:
        conn = _ProxiedSMTP(
            settings.host,
            settings.port,
            local_hostname=local_hostname,
            timeout=settings.timeout_seconds,
            proxy=settings.proxy,
        )
    try:
        conn.ehlo_or_helo_if_needed()
        if settings.tls is TlsMode.STARTTLS:
            _start_tls(conn, settings)
        authenticate(conn, settings, token_provider)
    except BaseException:
        conn.close()
        raise
    log.debug("SMTP connection to %s port %d ready", settings.host, settings.port)
    return conn


def _start_tls(conn: smtplib.SMTP, settings: SmtpSettings) -> None:
    """STARTTLS or nothing: a server that does not offer it, or refuses it, gets no message in plaintext."""
    if not conn.has_extn("starttls"):
        raise ConnectFailed(
            SendResult(
                SendStatus.FAILED,
                None,
                f"{settings.host} port {settings.port} does not offer STARTTLS, which is required; "
                "nothing was sent (use TLS mode 'implicit' if this is port 465)",
            )
        )
    conn.starttls(context=build_tls_context(settings.ca_file))  # raises on a non-220 reply: no fallback
    conn.ehlo()  # RFC 3207: forget what the server said before TLS, ask again


def authenticate(conn: smtplib.SMTP, settings: SmtpSettings, token_provider: TokenProvider | None) -> None:
    """AUTH with the configured mechanism; nothing when no username is set.

    The SASL responses are sent with smtplib's `docmd` rather than `SMTP.auth`, because `SMTP.auth` encodes
    them as ASCII and so cannot send a UTF-8 password (RFC 4616 allows one).
    """
    mechanism: str = settings.auth_mechanism
    if mechanism == "auto":
        if not settings.username:
            return
        mechanism = _choose_mechanism(conn, settings, token_provider)
    if not conn.has_extn("auth"):
        raise ConnectFailed(
            SendResult(SendStatus.FAILED, None, f"{settings.host} does not offer SMTP AUTH after the TLS handshake")
        )
    user = settings.username.encode()
    if mechanism == "plain":
        _sasl(conn, "PLAIN", initial=b"\0" + user + b"\0" + settings.password.encode(), answers=[])
    elif mechanism == "login":
        _sasl(conn, "LOGIN", initial=None, answers=[user, settings.password.encode()])
    else:
        _authenticate_oauth(conn, settings, token_provider, "oauthbearer" if mechanism == "oauthbearer" else "xoauth2")


def _authenticate_oauth(
    conn: smtplib.SMTP, settings: SmtpSettings, token_provider: TokenProvider | None, mechanism: OAuthMechanism
) -> None:
    """XOAUTH2 or OAUTHBEARER (RFC 7628) with a bearer token; a refused token is replaced once when the provider
    can invalidate it (the token may have been revoked early), then the refusal stands.

    On failure the server sends a 334 with a JSON error, answered as the mechanism says (sasl_oauth.py) to get the
    final 535.
    """
    if token_provider is None:
        name = SASL_NAMES[mechanism]
        raise ConnectFailed(SendResult(SendStatus.FAILED, None, f"{name} needs a token provider; none is set"))
    retries = 1 if isinstance(token_provider, RefreshableTokenProvider) else 0
    while True:
        token = _get_token(token_provider, settings)
        initial = build_client_response(mechanism, settings.username, token, settings.host, settings.port)
        try:
            _sasl(conn, SASL_NAMES[mechanism], initial=initial, answers=[ERROR_ACKNOWLEDGEMENT[mechanism]])
        except smtplib.SMTPAuthenticationError as e:  # a server that echoes the token must not get it logged
            if retries and isinstance(token_provider, RefreshableTokenProvider):
                retries -= 1
                log.info("SMTP %s refused the OAuth token; retrying once with a new one", settings.host)
                token_provider.invalidate()
                continue
            text = e.smtp_error if isinstance(e.smtp_error, bytes) else str(e.smtp_error).encode()
            raise smtplib.SMTPAuthenticationError(e.smtp_code, text.replace(token.encode(), b"[redacted]")) from None
        return


def _get_token(token_provider: TokenProvider, settings: SmtpSettings) -> str:
    """The provider's token; its failure is ours to retry, unless it says it is permanent (a revoked grant)."""
    try:
        return token_provider(settings)
    except PermanentError as e:
        failed = SendResult(SendStatus.FAILED, None, f"no OAuth access token for {settings.host}: {e}")
        raise ConnectFailed(failed) from e
    except Exception as e:
        reason = str(e) if isinstance(e, MailError) else type(e).__name__
        raise ConnectFailed(
            SendResult(SendStatus.DEFERRED, None, f"no OAuth access token for {settings.host}: {reason}")
        ) from e


def _choose_mechanism(conn: smtplib.SMTP, settings: SmtpSettings, token_provider: TokenProvider | None) -> str:
    offered = set((conn.esmtp_features.get("auth") or "").upper().split())
    if token_provider is not None and "XOAUTH2" in offered:
        return "xoauth2"
    if token_provider is not None and "OAUTHBEARER" in offered:
        return "oauthbearer"
    if "LOGIN" in offered and "PLAIN" not in offered:
        return "login"
    return "plain"


def _sasl(conn: smtplib.SMTP, mechanism: str, *, initial: bytes | None, answers: list[bytes]) -> None:
    """One SASL exchange: the initial response (RFC 4954), then one answer per 334 challenge."""
    argument = mechanism if initial is None else f"{mechanism} {_b64(initial)}"
    code, reply = conn.docmd("AUTH", argument)
    pending = list(answers)
    while code == 334:
        answer = pending.pop(0) if pending else None
        if answer is None:
            code, reply = conn.docmd("*")  # cancel: the server asks for more than the mechanism has
            break
        code, reply = conn.docmd(_b64(answer))
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
