"""The outbound SMTP client and pool, against real aiosmtpd servers on 127.0.0.1 (plain, STARTTLS, implicit TLS)."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import threading
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from aiosmtpd.smtp import Envelope as SMTPEnvelope
from aiosmtpd.smtp import Session as SMTPSession

from postroom.mail.transport.smtp import (
    SendStatus,
    SmtpConfigError,
    SmtpPool,
    SmtpSettings,
    TlsMode,
    is_loopback_host,
    next_retry_delay,
    send_once,
)
from testpki import issue_server_cert, make_ca, write_pem

HOST = "127.0.0.1"
TIMEOUT = 10.0  # seconds; only a guard against a hang, never asserted on
USER = "agent@example.com"
PASSWORD = "k0rrekt-Pässwort"  # non-ASCII on purpose: RFC 4616 allows UTF-8
TOKEN = "ya29.test-access-token"
RAW = (
    b"From: Support <support@example.com>\r\n"
    b"To: Kunde <kunde@example.org>\r\n"
    b"Subject: Re: [#42] Drucker\r\n"
    b"Message-ID: <out-1@example.com>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Gr\xc3\xbc\xc3\x9fe,\r\n"
    b".a line that starts with a dot (dot-stuffed on the wire)\r\n"
    b"trailing spaces stay   \r\n"
)
ASCII_RAW = b"From: support@example.com\r\nTo: kunde@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"


# --- certificates -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path  # the CA the client trusts
    server_context: ssl.SSLContext  # a server cert for localhost/127.0.0.1 signed by that CA
    rogue_server_context: ssl.SSLContext  # the same names, signed by a CA nobody trusts


def _server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    out = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = make_ca("Postroom Test CA")
    rogue_key, rogue_cert = make_ca("Postroom Test CA")  # same name, other key: only the signature differs
    names = ["localhost", HOST]
    return Pki(
        ca_file=write_pem(out / "ca.pem", ca_cert),
        server_context=_server_context(*issue_server_cert(ca_key, ca_cert, names, out, stem="server")),
        rogue_server_context=_server_context(*issue_server_cert(rogue_key, rogue_cert, names, out, stem="rogue")),
    )


# --- the server ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...]
    raw: bytes
    login: bytes | None


class Sink:
    """aiosmtpd hooks that record what arrives and answer with scripted replies."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.mail_commands = 0
        self.mail_replies: list[str] = []  # popped per MAIL; "250 OK" when empty
        self.data_replies: list[str] = []  # popped per DATA; "250 OK" when empty
        self.refuse: dict[str, str] = {}  # recipient -> RCPT reply
        self.auth_mechanisms: list[str] = []
        self._lock = threading.Lock()

    async def handle_MAIL(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: SMTPSession, envelope: SMTPEnvelope, address: str, options: list[str]
    ) -> str:
        with self._lock:
            self.mail_commands += 1
            if self.mail_replies:
                return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: SMTPSession, envelope: SMTPEnvelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: SMTPSession, envelope: SMTPEnvelope
    ) -> str:
        with self._lock:
            reply = self.data_replies.pop(0) if self.data_replies else "250 2.0.0 OK"
            if reply.startswith("250"):
                self.messages.append(
                    Received(
                        mail_from=envelope.mail_from or "",
                        rcpt_tos=tuple(envelope.rcpt_tos),
                        mail_options=tuple(envelope.mail_options),
                        raw=envelope.original_content or b"",
                        login=session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None,
                    )
                )
        return reply

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 (aiosmtpd name)
        """XOAUTH2 as Gmail does it: a 334 with a JSON error for a bad token, then 535."""
        self.auth_mechanisms.append("XOAUTH2")
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        if blob == f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode():
            return AuthResult(success=True, auth_data=LoginPassword(USER.encode(), b""))
        await server.challenge_auth('{"status":"401","schemes":"bearer"}')
        return AuthResult(success=False, handled=False)  # aiosmtpd then replies 535

    def authenticator(
        self, server: SMTP, session: SMTPSession, envelope: SMTPEnvelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.auth_mechanisms.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


class _Controller(Controller):
    """aiosmtpd's controller on a socket bound beforehand (port 0), keeping every session's protocol object."""

    def __init__(self, handler: Sink, *, sock: socket.socket, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=sock.getsockname()[1], **kwargs)
        self._sock = sock
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        server = SMTP(self.handler, **self.SMTP_kwargs)  # what Controller.factory does, typed
        self.sessions.append(server)
        return server

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def drop_all(self) -> None:
        """Close every session from the server side, as a restart or an idle timeout would."""

        async def close() -> None:
            for server in self.sessions:
                if server.transport is not None:
                    server.transport.close()
            for _ in range(3):  # let connection_lost run, which closes the sockets
                await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(TIMEOUT)


@contextmanager
def serve(sink: Sink, **kwargs: Any) -> Iterator[_Controller]:
    sock = socket.create_server((HOST, 0))
    controller = _Controller(sink, sock=sock, server_hostname="mx.test", **kwargs)
    controller.start()
    controller.sessions.clear()  # the controller's own start-up probe is not a client
    try:
        yield controller
    finally:
        controller.stop()


def settings_for(controller: _Controller, tls: TlsMode = TlsMode.NONE, **kwargs: Any) -> SmtpSettings:
    return SmtpSettings(
        host=HOST, port=controller.port, tls=tls, timeout_seconds=TIMEOUT, local_hostname="client.test", **kwargs
    )


# --- delivery -----------------------------------------------------------------------------------------------


def test_plain_loopback_send_delivers_exact_bytes_and_envelope() -> None:
    """
    GIVEN a plaintext SMTP server on loopback
    WHEN an 8-bit message with a dot-leading line is sent to two recipients
    THEN it is SENT with the server's reply, and the server got the envelope, BODY=8BITMIME and the bytes
    """
    sink = Sink()
    with serve(sink) as server:
        result = send_once(settings_for(server), "support@example.com", ["a@example.org", "b@example.org"], RAW)

    assert result.status is SendStatus.SENT
    assert (result.code, result.reply, result.refused) == (250, "250 2.0.0 OK", {})
    [got] = sink.messages
    assert got.raw == RAW
    assert (got.mail_from, got.rcpt_tos) == ("support@example.com", ("a@example.org", "b@example.org"))
    assert got.mail_options == ("BODY=8BITMIME",)


def test_bare_line_feeds_go_out_as_crlf_and_null_sender_as_empty_path() -> None:
    """
    GIVEN a message with bare LF line endings, sent as a bounce (null reverse-path)
    WHEN it is sent
    THEN the server gets CRLF line endings, no BODY parameter for ASCII content, and MAIL FROM:<>
    """
    sink = Sink()
    with serve(sink) as server:
        result = send_once(settings_for(server), "", ["kunde@example.org"], ASCII_RAW.replace(b"\r\n", b"\n"))

    assert result.status is SendStatus.SENT
    [got] = sink.messages
    assert got.raw == ASCII_RAW
    assert got.mail_from == "<>"
    assert got.mail_options == ()


def test_utf8_address_uses_smtputf8() -> None:
    """
    GIVEN a server offering SMTPUTF8 (and one that does not)
    WHEN a message goes to a non-ASCII address
    THEN the first gets it with SMTPUTF8, the second is never asked: FAILED with the reason
    """
    sink = Sink()
    with serve(sink) as server:
        result = send_once(settings_for(server), "support@example.com", ["jörg@bücher.example"], RAW)
    assert result.status is SendStatus.SENT
    [got] = sink.messages
    assert got.rcpt_tos == ("jörg@bücher.example",)
    assert "SMTPUTF8" in got.mail_options

    plain = Sink()
    with serve(plain, enable_SMTPUTF8=False) as server:
        result = send_once(settings_for(server), "support@example.com", ["jörg@bücher.example"], RAW)
    assert result.status is SendStatus.FAILED
    assert "SMTPUTF8" in result.reply
    assert plain.mail_commands == 0


# --- TLS ----------------------------------------------------------------------------------------------------


def test_starttls_verified_against_the_test_ca(pki: Pki) -> None:
    """
    GIVEN a server that requires STARTTLS, with a certificate from the CA the client is given
    WHEN a message is sent in STARTTLS mode
    THEN it is SENT
    """
    sink = Sink()
    with serve(sink, tls_context=pki.server_context, require_starttls=True) as server:
        result = send_once(
            settings_for(server, TlsMode.STARTTLS, ca_file=str(pki.ca_file)), "s@example.com", ["k@x.org"], RAW
        )

    assert result.status is SendStatus.SENT, result.reply
    assert [m.raw for m in sink.messages] == [RAW]


def test_implicit_tls_verified_against_the_test_ca(pki: Pki) -> None:
    """
    GIVEN a server speaking TLS from the first byte, with a certificate from the trusted test CA
    WHEN a message is sent in implicit TLS mode
    THEN it is SENT
    """
    sink = Sink()
    with serve(sink, ssl_context=pki.server_context) as server:
        result = send_once(
            settings_for(server, TlsMode.IMPLICIT, ca_file=str(pki.ca_file)), "s@example.com", ["k@x.org"], RAW
        )

    assert result.status is SendStatus.SENT, result.reply
    assert [m.raw for m in sink.messages] == [RAW]


@pytest.mark.parametrize("tls", [TlsMode.STARTTLS, TlsMode.IMPLICIT])
def test_untrusted_certificate_fails_and_nothing_is_sent(pki: Pki, tls: TlsMode) -> None:
    """
    GIVEN a server whose certificate was signed by a CA the client does not trust
    WHEN a message is sent
    THEN it FAILED with a verification message naming the host, and the server saw no MAIL command
    """
    sink = Sink()
    tls_kwargs: dict[str, Any] = (
        {"tls_context": pki.rogue_server_context, "require_starttls": True}
        if tls is TlsMode.STARTTLS
        else {"ssl_context": pki.rogue_server_context}
    )
    with serve(sink, **tls_kwargs) as server:
        result = send_once(settings_for(server, tls, ca_file=str(pki.ca_file)), "s@example.com", ["k@x.org"], RAW)

    assert result.status is SendStatus.FAILED
    assert result.reply.startswith(f"TLS certificate verification failed for {HOST}: ")
    assert sink.mail_commands == 0
    assert sink.messages == []


def test_starttls_required_but_not_offered_never_sends_plaintext(pki: Pki) -> None:
    """
    GIVEN a server that does not offer STARTTLS
    WHEN a message is sent in STARTTLS mode
    THEN it FAILED saying STARTTLS is missing, and the server saw no MAIL command (no plaintext fallback)
    """
    sink = Sink()
    with serve(sink) as server:
        result = send_once(
            settings_for(server, TlsMode.STARTTLS, ca_file=str(pki.ca_file)), "s@example.com", ["k@x.org"], RAW
        )

    assert result.status is SendStatus.FAILED
    assert "does not offer STARTTLS" in result.reply
    assert sink.mail_commands == 0


def test_implicit_tls_to_a_plaintext_port_fails_with_a_hint(pki: Pki) -> None:
    """
    GIVEN a plaintext server
    WHEN the client is configured for implicit TLS on its port
    THEN it FAILED (a configuration error, not worth retrying) with a hint about the mode
    """
    sink = Sink()
    with serve(sink) as server:
        result = send_once(
            settings_for(server, TlsMode.IMPLICIT, ca_file=str(pki.ca_file)), "s@example.com", ["k@x.org"], RAW
        )

    assert result.status is SendStatus.FAILED
    assert "does not speak TLS" in result.reply


@pytest.mark.parametrize("host", ["smtp.example.com", "10.0.0.1", "127.example.com", "::2"])
def test_plaintext_to_a_remote_host_is_a_config_error(host: str) -> None:
    """
    GIVEN TLS mode none
    WHEN the settings name a host that is not loopback
    THEN building them raises SmtpConfigError
    """
    with pytest.raises(SmtpConfigError, match="loopback"):
        SmtpSettings(host=host, port=25, tls=TlsMode.NONE)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "::1", "[::1]", "LOCALHOST."])
def test_plaintext_to_loopback_is_allowed(host: str) -> None:
    """
    GIVEN TLS mode none
    WHEN the settings name a loopback host
    THEN they are accepted
    """
    assert is_loopback_host(host)
    assert SmtpSettings(host=host, port=25, tls=TlsMode.NONE).tls is TlsMode.NONE


# --- AUTH ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["plain", "login", "auto"])
def test_auth_with_utf8_password(pki: Pki, mechanism: str) -> None:
    """
    GIVEN a STARTTLS server that requires AUTH (PLAIN or LOGIN, only after TLS)
    WHEN a message is sent with the right UTF-8 password
    THEN it is SENT, authenticated as the user with the mechanism asked for
    """
    sink = Sink()
    with serve(
        sink,
        tls_context=pki.server_context,
        require_starttls=True,
        authenticator=sink.authenticator,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=["XOAUTH2"],
    ) as server:
        settings = settings_for(
            server,
            TlsMode.STARTTLS,
            ca_file=str(pki.ca_file),
            username=USER,
            password=PASSWORD,
            auth_mechanism=mechanism,
        )
        result = send_once(settings, "s@example.com", ["k@x.org"], RAW)

    assert result.status is SendStatus.SENT, result.reply
    assert sink.auth_mechanisms == [{"plain": "PLAIN", "login": "LOGIN", "auto": "PLAIN"}[mechanism]]
    assert [m.login for m in sink.messages] == [USER.encode()]


def test_wrong_password_fails_without_leaking_it(pki: Pki) -> None:
    """
    GIVEN a server that requires AUTH
    WHEN the password is wrong
    THEN it FAILED with the 535 reply, the user named, the password nowhere, and no MAIL sent
    """
    sink = Sink()
    wrong = "wrong-Pässwort"
    with serve(sink, tls_context=pki.server_context, authenticator=sink.authenticator, auth_required=True) as server:
        settings = settings_for(server, TlsMode.STARTTLS, ca_file=str(pki.ca_file), username=USER, password=wrong)
        result = send_once(settings, "s@example.com", ["k@x.org"], RAW)

    assert result.status is SendStatus.FAILED
    assert result.code == 535
    assert USER in result.reply
    assert "535 5.7.8" in result.reply
    assert wrong not in result.reply and wrong not in repr(result) and wrong not in repr(settings)
    assert sink.mail_commands == 0


@pytest.mark.parametrize(("token", "status"), [(TOKEN, SendStatus.SENT), ("expired-token", SendStatus.FAILED)])
def test_xoauth2_with_token_provider(pki: Pki, token: str, status: SendStatus) -> None:
    """
    GIVEN a server offering XOAUTH2 and a token provider
    WHEN a message is sent with the valid token, and with an expired one
    THEN the first is SENT over XOAUTH2; the second FAILED with 535 and the token not in the reply
    """
    sink = Sink()
    asked: list[SmtpSettings] = []

    def token_provider(settings: SmtpSettings) -> str:
        asked.append(settings)
        return token

    with serve(sink, tls_context=pki.server_context, authenticator=sink.authenticator, auth_required=True) as server:
        settings = settings_for(
            server, TlsMode.STARTTLS, ca_file=str(pki.ca_file), username=USER, auth_mechanism="xoauth2"
        )
        result = send_once(settings, "s@example.com", ["k@x.org"], RAW, token_provider=token_provider)

    assert result.status is status, result.reply
    assert asked == [settings]
    assert sink.auth_mechanisms == ["XOAUTH2"]
    assert token not in result.reply
    if status is SendStatus.FAILED:
        assert result.code == 535
        assert sink.mail_commands == 0


def test_xoauth2_without_token_provider_is_a_config_error() -> None:
    """
    GIVEN settings asking for XOAUTH2
    WHEN a pool is built without a token provider
    THEN it raises SmtpConfigError
    """
    settings = SmtpSettings(
        host="smtp.example.com", port=587, tls=TlsMode.STARTTLS, username=USER, auth_mechanism="xoauth2"
    )
    with pytest.raises(SmtpConfigError, match="token provider"):
        SmtpPool(settings)


# --- replies ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status"),
    [("451 4.7.1 Try again later", SendStatus.DEFERRED), ("550 5.7.1 Message refused as spam", SendStatus.FAILED)],
)
def test_data_reply_classification_keeps_the_reply_text(reply: str, status: SendStatus) -> None:
    """
    GIVEN a server that answers DATA with 451, or with 550
    WHEN a message is sent
    THEN it is DEFERRED, or FAILED, with the server's reply text and code
    """
    sink = Sink()
    sink.data_replies = [reply]
    with serve(sink) as server:
        result = send_once(settings_for(server), "s@example.com", ["k@x.org"], RAW)

    assert (result.status, result.code, result.reply) == (status, int(reply[:3]), reply)


def test_one_recipient_refused_of_two_is_sent_with_the_refusal() -> None:
    """
    GIVEN a server that refuses one of two recipients with 550
    WHEN a message is sent to both
    THEN it is SENT to the other, and `refused` holds the refused one with its reply
    """
    sink = Sink()
    sink.refuse = {"gone@example.org": "550 5.1.1 No such user"}
    with serve(sink) as server:
        result = send_once(settings_for(server), "s@example.com", ["gone@example.org", "ok@example.org"], RAW)

    assert result.status is SendStatus.SENT
    assert result.refused == {"gone@example.org": (550, "550 5.1.1 No such user")}
    assert [m.rcpt_tos for m in sink.messages] == [("ok@example.org",)]


@pytest.mark.parametrize(
    ("replies", "status"),
    [
        (["550 5.1.1 No such user", "553 5.1.3 Bad address"], SendStatus.FAILED),
        (["550 5.1.1 No", "450 4.2.0 Busy"], SendStatus.DEFERRED),
    ],
    ids=["all-permanent", "one-temporary"],
)
def test_all_recipients_refused(replies: list[str], status: SendStatus) -> None:
    """
    GIVEN a server that refuses every recipient
    WHEN a message is sent
    THEN it FAILED when all refusals are permanent, DEFERRED when one is temporary; nothing delivered
    """
    sink = Sink()
    sink.refuse = {"a@example.org": replies[0], "b@example.org": replies[1]}
    with serve(sink) as server:
        result = send_once(settings_for(server), "s@example.com", ["a@example.org", "b@example.org"], RAW)

    assert result.status is status
    assert set(result.refused) == {"a@example.org", "b@example.org"}
    assert sink.messages == []


def test_connection_refused_is_deferred() -> None:
    """
    GIVEN a port nothing listens on
    WHEN a message is sent there
    THEN it is DEFERRED with a reply saying so
    """
    with socket.create_server((HOST, 0)) as probe:
        port = probe.getsockname()[1]
    result = send_once(
        SmtpSettings(host=HOST, port=port, tls=TlsMode.NONE, timeout_seconds=TIMEOUT), "s@x.com", ["k@x.org"], RAW
    )

    assert result.status is SendStatus.DEFERRED
    assert result.code is None
    assert "connection refused" in result.reply


# --- the pool -----------------------------------------------------------------------------------------------


def test_pool_reuses_one_connection_for_many_messages() -> None:
    """
    GIVEN a pool of four connections
    WHEN one thread sends 20 messages one after the other
    THEN all arrive over a single SMTP session
    """
    sink = Sink()
    with serve(sink) as server, SmtpPool(settings_for(server), size=4) as pool:
        results = [pool.send("s@example.com", [f"k{i}@x.org"], RAW) for i in range(20)]
        sessions = len(server.sessions)

    assert {r.status for r in results} == {SendStatus.SENT}
    assert len(sink.messages) == 20
    assert sessions == 1


def test_pool_is_thread_safe_and_bounded() -> None:
    """
    GIVEN a pool of two connections
    WHEN eight threads send 10 messages each
    THEN all 80 arrive intact over at most two sessions
    """
    sink = Sink()
    with serve(sink) as server, SmtpPool(settings_for(server), size=2) as pool, ThreadPoolExecutor(8) as threads:
        futures = [threads.submit(pool.send, "s@example.com", [f"k{i}@x.org"], RAW) for i in range(80)]
        results = [f.result(TIMEOUT) for f in futures]
        sessions = len(server.sessions)

    assert {r.status for r in results} == {SendStatus.SENT}
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == sorted(f"k{i}@x.org" for i in range(80))
    assert {m.raw for m in sink.messages} == {RAW}
    assert 1 <= sessions <= 2


def test_pool_reconnects_once_after_the_server_dropped_the_connection() -> None:
    """
    GIVEN a pool whose idle connection the server has closed (a restart or its idle timeout)
    WHEN the next message is sent
    THEN it is SENT over a new session, transparently
    """
    sink = Sink()
    with serve(sink) as server, SmtpPool(settings_for(server), size=1) as pool:
        first = pool.send("s@example.com", ["k@x.org"], RAW)
        server.drop_all()
        second = pool.send("s@example.com", ["k@x.org"], RAW)
        sessions = len(server.sessions)

    assert (first.status, second.status) == (SendStatus.SENT, SendStatus.SENT), second.reply
    assert len(sink.messages) == 2
    assert sessions == 2


def test_pool_reconnects_once_when_a_reused_connection_gets_421() -> None:
    """
    GIVEN a pooled connection the server answers with 421 at MAIL (Postfix's idle timeout), then a fresh one
    WHEN a message is sent through the pool, and another with its own connection
    THEN the pooled one is SENT over a new session; the fresh one is DEFERRED with the 421 reply
    """
    sink = Sink()
    with serve(sink) as server, SmtpPool(settings_for(server), size=1) as pool:
        assert pool.send("s@example.com", ["k@x.org"], RAW).status is SendStatus.SENT
        sink.mail_replies = ["421 4.4.2 Idle timeout exceeded, closing"]
        pooled = pool.send("s@example.com", ["k@x.org"], RAW)
        sessions = len(server.sessions)
        sink.mail_replies = ["421 4.3.2 Shutting down"]
        fresh = send_once(settings_for(server), "s@example.com", ["k@x.org"], RAW)

    assert pooled.status is SendStatus.SENT, pooled.reply
    assert sessions == 2
    assert (fresh.status, fresh.code, fresh.reply) == (SendStatus.DEFERRED, 421, "421 4.3.2 Shutting down")
    assert len(sink.messages) == 2


def test_pool_reports_deferred_when_the_server_is_gone() -> None:
    """
    GIVEN a pool with an idle connection, and then the server stopped
    WHEN the next message is sent
    THEN the one reconnect fails too and it is DEFERRED
    """
    sink = Sink()
    with serve(sink) as server:
        pool = SmtpPool(settings_for(server), size=1)
        assert pool.send("s@example.com", ["k@x.org"], RAW).status is SendStatus.SENT
        server.drop_all()
    result = pool.send("s@example.com", ["k@x.org"], RAW)
    pool.close()

    assert result.status is SendStatus.DEFERRED
    assert "connection refused" in result.reply


def test_failed_transaction_leaves_the_connection_usable() -> None:
    """
    GIVEN a server that refuses the first message with 550 and accepts the next
    WHEN both are sent through a pool
    THEN the first FAILED, the second is SENT, both over the same session (RSET, not reconnect)
    """
    sink = Sink()
    sink.data_replies = ["550 5.7.1 No"]
    with serve(sink) as server, SmtpPool(settings_for(server), size=1) as pool:
        first = pool.send("s@example.com", ["k@x.org"], RAW)
        second = pool.send("s@example.com", ["k@x.org"], RAW)
        sessions = len(server.sessions)

    assert (first.status, second.status) == (SendStatus.FAILED, SendStatus.SENT)
    assert sessions == 1


def test_pool_replaces_connections_by_message_count_and_idle_time() -> None:
    """
    GIVEN a pool allowing 3 messages per connection and 60 s idle, on a fake clock
    WHEN 7 messages are sent, the clock moves 61 s, and one more is sent
    THEN the 7 use 3 sessions, and the idle one is replaced by a fourth
    """
    now = [1000.0]
    sink = Sink()
    with serve(sink) as server:
        settings = settings_for(server, max_messages_per_connection=3, idle_seconds=60.0)
        with SmtpPool(settings, size=1, clock=lambda: now[0]) as pool:
            for _ in range(7):
                assert pool.send("s@example.com", ["k@x.org"], RAW).status is SendStatus.SENT
            after_seven = len(server.sessions)
            now[0] += 61.0
            assert pool.send("s@example.com", ["k@x.org"], RAW).status is SendStatus.SENT
            after_idle = len(server.sessions)

    assert (after_seven, after_idle) == (3, 4)


def test_closed_pool_refuses_to_send() -> None:
    """
    GIVEN a closed pool
    WHEN send is called
    THEN it raises RuntimeError
    """
    pool = SmtpPool(SmtpSettings(host=HOST, port=25, tls=TlsMode.NONE))
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.send("s@example.com", ["k@x.org"], RAW)


# --- retry delay --------------------------------------------------------------------------------------------


def test_next_retry_delay_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    """
    GIVEN a fixed random source at its extremes
    WHEN delays are asked for attempts 1 to 10
    THEN the ceiling doubles from 60 s to the 3600 s cap, and each delay lies in [ceiling/2, ceiling)
    """
    low = [next_retry_delay(a, rand=lambda: 0.0) for a in range(1, 11)]
    high = [next_retry_delay(a, rand=lambda: 0.999) for a in range(1, 11)]

    assert low[:7] == [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1800.0]
    assert low[7:] == [1800.0] * 3
    assert all(lo < hi < 2 * lo for lo, hi in zip(low, high, strict=True))
    assert next_retry_delay(10_000, rand=lambda: 0.5) == 2700.0
    with pytest.raises(ValueError, match="attempt"):
        next_retry_delay(0)


def test_settings_repr_hides_the_password() -> None:
    """
    GIVEN settings with a password
    WHEN they are printed (e.g. in a log line or a traceback)
    THEN the password is not shown
    """
    settings = replace(SmtpSettings(host="smtp.example.com", port=587, tls=TlsMode.STARTTLS), password=PASSWORD)
    assert PASSWORD not in repr(settings)
