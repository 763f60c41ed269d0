"""The inbound SMTP/LMTP listener, driven by real smtplib clients over 127.0.0.1."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from postroom.mail.transport.delivery import DeliveryOutcome, DeliveryStatus, Envelope
from postroom.mail.transport.lmtp_server import (
    InboundListener,
    format_peer,
    sanitise_reason,
)

HOST = "127.0.0.1"
TIMEOUT = 10  # seconds; only a guard against a hang, never asserted on
MAX_BYTES = 64 * 1024

RAW = (
    b"From: Kunde <kunde@example.org>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    b"Message-ID: <raw-1@example.org>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln.\r\n"
    b".a line that starts with a dot (dot-stuffed on the wire)\r\n"
    b"trailing spaces stay   \r\n"
)


class Recorder:
    """A deliver callable that records what it got and answers with a fixed outcome (or raises)."""

    def __init__(self, outcome: DeliveryOutcome | None = None, error: Exception | None = None) -> None:
        self.outcome = outcome or DeliveryOutcome.accepted()
        self.error = error
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()

    def __call__(self, envelope: Envelope) -> DeliveryOutcome:
        with self._lock:
            self.envelopes.append(envelope)
        if self.error is not None:
            raise self.error
        return self.outcome


@contextmanager
def running(
    deliver: Callable[[Envelope], DeliveryOutcome],
    *,
    lmtp: bool = False,
    max_bytes: int = MAX_BYTES,
    accept_recipient: Callable[[str], bool] | None = None,
) -> Iterator[InboundListener]:
    with InboundListener(
        deliver,
        host=HOST,
        port=0,
        lmtp=lmtp,
        max_bytes=max_bytes,
        accept_recipient=accept_recipient,
        server_hostname="mx.example.com",
    ) as listener:
        yield listener


def smtp_client(listener: InboundListener) -> smtplib.SMTP:
    return smtplib.SMTP(HOST, listener.port, timeout=TIMEOUT)


def lmtp_client(listener: InboundListener) -> smtplib.LMTP:
    return smtplib.LMTP(HOST, listener.port, timeout=TIMEOUT)


def test_accepted_message_gets_250_and_exact_bytes_and_envelope() -> None:
    """
    GIVEN a listener whose deliver accepts
    WHEN a client sends an 8-bit message with a dot-stuffed line to two recipients
    THEN sendmail succeeds, and deliver got the envelope and the DATA bytes exactly, CRLF preserved
    """
    recorder = Recorder()
    with running(recorder) as listener, smtp_client(listener) as client:
        refused = client.sendmail(
            "kunde@example.org",
            ["support@example.com", "sales@example.com"],
            RAW,
            mail_options=["BODY=8BITMIME"],
        )
        assert client.sock is not None
        local_port = client.sock.getsockname()[1]

    assert refused == {}
    [envelope] = recorder.envelopes
    assert envelope.raw == RAW
    assert envelope.mail_from == "kunde@example.org"
    assert envelope.rcpt_tos == ("support@example.com", "sales@example.com")
    assert envelope.peer == f"{HOST}:{local_port}"


def test_250_is_sent_only_after_deliver_returned() -> None:
    """
    GIVEN a deliver callable blocked inside its (pretend) database commit
    WHEN a client sends a message
    THEN the client has no reply while deliver is blocked, and gets 250 once deliver returns
    """
    entered, release = threading.Event(), threading.Event()

    def deliver(envelope: Envelope) -> DeliveryOutcome:
        entered.set()
        assert release.wait(TIMEOUT)
        return DeliveryOutcome.accepted()

    with running(deliver) as listener, ThreadPoolExecutor(max_workers=1) as pool:

        def send() -> tuple[int, bytes]:
            with smtp_client(listener) as client:
                client.ehlo()
                client.mail("kunde@example.org")
                client.rcpt("support@example.com")
                return client.data(RAW)

        reply = pool.submit(send)
        assert entered.wait(TIMEOUT)
        assert not reply.done()
        release.set()
        code, text = reply.result(TIMEOUT)

    assert code == 250
    assert text.startswith(b"2.0.0")


@pytest.mark.parametrize(
    "recorder",
    [
        Recorder(error=RuntimeError("database is down")),
        Recorder(outcome=DeliveryOutcome.temporary_failure("could not commit")),
    ],
    ids=["deliver-raises", "temporary-failure"],
)
def test_our_failure_gets_451_without_internals(recorder: Recorder) -> None:
    """
    GIVEN a deliver callable that raises or reports a temporary failure (our fault)
    WHEN a client sends a message
    THEN the reply is 451 4.3.0, so the sending server keeps the message and retries, and the reply does not
         reveal the internal reason
    """
    with running(recorder) as listener, smtp_client(listener) as client:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail("kunde@example.org", ["support@example.com"], RAW)
        # the session stays usable for the retry
        assert client.noop()[0] == 250

    error = caught.value.smtp_error
    assert isinstance(error, bytes)
    assert caught.value.smtp_code == 451
    assert error.startswith(b"4.3.0")
    assert b"database" not in error
    assert b"commit" not in error
    assert len(recorder.envelopes) == 1


def test_rejected_gets_554_with_the_reason() -> None:
    """
    GIVEN a deliver callable that rejects (the sender's fault) with a reason carrying a line break
    WHEN a client sends a message
    THEN the reply is 554 5.6.0 with the reason on one line
    """
    recorder = Recorder(outcome=DeliveryOutcome.rejected("Message looks malformed\r\n250 injected"))
    with running(recorder) as listener, smtp_client(listener) as client:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail("kunde@example.org", ["support@example.com"], RAW)
        assert client.noop()[0] == 250

    assert caught.value.smtp_code == 554
    assert caught.value.smtp_error == b"5.6.0 Message looks malformed 250 injected"


def test_message_over_max_bytes_gets_552_in_data() -> None:
    """
    GIVEN a listener with max_bytes of 64 KiB
    WHEN a client sends a larger message without declaring its size in MAIL FROM
    THEN DATA is answered 552 5.3.4 and deliver is never called
    """
    recorder = Recorder()
    big = RAW + (b"y" * 998 + b"\r\n") * 70
    assert len(big) > MAX_BYTES
    with running(recorder) as listener, smtp_client(listener) as client:
        client.ehlo()
        assert client.mail("kunde@example.org")[0] == 250
        assert client.rcpt("support@example.com")[0] == 250
        code, text = client.data(big)
        assert client.noop()[0] == 250

    assert (code, text) == (552, b"5.3.4 Message size exceeds fixed maximum message size")
    assert recorder.envelopes == []


def test_declared_size_over_max_bytes_gets_552_at_mail_from() -> None:
    """
    GIVEN a listener advertising SIZE 65536
    WHEN smtplib sends a larger message (it declares SIZE= in MAIL FROM on its own)
    THEN MAIL FROM is refused with 552 5.3.4 before any data is sent
    """
    recorder = Recorder()
    with running(recorder) as listener, smtp_client(listener) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == str(MAX_BYTES)
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:
            client.sendmail("kunde@example.org", ["support@example.com"], b"x" * (MAX_BYTES + 1))

    assert caught.value.smtp_code == 552
    assert caught.value.smtp_error.startswith(b"5.3.4")
    assert recorder.envelopes == []


def test_message_just_under_max_bytes_is_accepted() -> None:
    """
    GIVEN a listener with max_bytes of 64 KiB
    WHEN a client sends a message a little below that
    THEN it is delivered
    """
    recorder = Recorder()
    body = RAW + (b"z" * 98 + b"\r\n") * ((MAX_BYTES - len(RAW)) // 100 - 1)
    with running(recorder) as listener, smtp_client(listener) as client:
        client.sendmail("kunde@example.org", ["support@example.com"], body)

    assert [e.raw for e in recorder.envelopes] == [body]


def test_unknown_recipient_is_refused_with_550_at_rcpt() -> None:
    """
    GIVEN a listener that accepts only support@example.com
    WHEN a client sends to support@ and to nobody@
    THEN nobody@ is refused with 550 5.1.1 and deliver gets the message for support@ only
    """
    recorder = Recorder()
    with running(recorder, accept_recipient=lambda rcpt: rcpt == "support@example.com") as listener:
        with smtp_client(listener) as client:
            refused = client.sendmail("kunde@example.org", ["support@example.com", "nobody@example.com"], RAW)
        with smtp_client(listener) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            client.sendmail("kunde@example.org", ["nobody@example.com"], RAW)

    assert refused["nobody@example.com"][0] == 550
    assert refused["nobody@example.com"][1].startswith(b"5.1.1")
    assert caught.value.recipients["nobody@example.com"][0] == 550
    assert [e.rcpt_tos for e in recorder.envelopes] == [("support@example.com",)]


def test_recipient_check_that_raises_gets_451_at_rcpt() -> None:
    """
    GIVEN a recipient check that raises (e.g. the database is unreachable)
    WHEN a client names a recipient
    THEN RCPT is answered 451 4.3.0 so the sender retries later
    """

    def accept_recipient(address: str) -> bool:
        raise OSError("connection refused")

    with running(Recorder(), accept_recipient=accept_recipient) as listener, smtp_client(listener) as client:
        client.ehlo()
        client.mail("kunde@example.org")
        code, text = client.rcpt("support@example.com")

    assert (code, text[:5]) == (451, b"4.3.0")


def test_lmtp_replies_once_per_recipient() -> None:
    """
    GIVEN an LMTP listener whose deliver accepts
    WHEN a client sends one message to three recipients
    THEN DATA gets three 250 replies and deliver is called once with all three recipients
    """
    recorder = Recorder()
    rcpts = ["support@example.com", "sales@example.com", "billing@example.com"]
    with running(recorder, lmtp=True) as listener, lmtp_client(listener) as client:
        assert client.ehlo()[0] == 250  # smtplib.LMTP sends LHLO
        client.mail("kunde@example.org")
        for rcpt in rcpts:
            assert client.rcpt(rcpt)[0] == 250
        replies = [client.data(RAW)] + [client.getreply() for _ in rcpts[1:]]
        assert client.noop()[0] == 250  # nothing left over in the stream

    assert [code for code, _ in replies] == [250, 250, 250]
    [envelope] = recorder.envelopes
    assert envelope.rcpt_tos == tuple(rcpts)
    assert envelope.raw == RAW


@pytest.mark.parametrize(
    ("recorder", "max_bytes", "code"),
    [
        (Recorder(outcome=DeliveryOutcome.temporary_failure("db")), MAX_BYTES, 451),
        (Recorder(error=RuntimeError("boom")), MAX_BYTES, 451),
        (Recorder(outcome=DeliveryOutcome.rejected("no")), MAX_BYTES, 554),
        (Recorder(), 1024, 552),
    ],
    ids=["temporary", "raises", "rejected", "too-big"],
)
def test_lmtp_failures_are_repeated_per_recipient(recorder: Recorder, max_bytes: int, code: int) -> None:
    """
    GIVEN an LMTP listener that fails a message (our fault, sender's fault, or too big)
    WHEN a client sends it to two recipients
    THEN DATA gets the same failure twice, one line per recipient, and the session stays in step
    """
    with running(recorder, lmtp=True, max_bytes=max_bytes) as listener, lmtp_client(listener) as client:
        client.ehlo()
        client.mail("kunde@example.org")
        client.rcpt("support@example.com")
        client.rcpt("sales@example.com")
        replies = [client.data(RAW * 20), client.getreply()]
        assert client.noop()[0] == 250

    assert [c for c, _ in replies] == [code, code]


def test_lmtp_listener_refuses_ehlo() -> None:
    """
    GIVEN an LMTP listener
    WHEN a client greets it with SMTP's EHLO
    THEN it answers 500 (LMTP uses LHLO, RFC 2033)
    """
    with running(Recorder(), lmtp=True) as listener, smtp_client(listener) as client:
        assert client.docmd("EHLO", "client.example.org")[0] == 500


def test_concurrent_sessions_are_all_delivered() -> None:
    """
    GIVEN a listener whose deliver takes part in a barrier, so deliveries must overlap to finish
    WHEN 4 threads send 5 messages each over their own connections
    THEN all 20 messages are delivered and acknowledged
    """
    recorder = Recorder()
    barrier = threading.Barrier(4, timeout=TIMEOUT)

    def deliver(envelope: Envelope) -> DeliveryOutcome:
        if envelope.raw.endswith(b"message 0\r\n"):
            barrier.wait()  # every sender's first message is inside deliver at the same time
        return recorder(envelope)

    def send_five(sender: int) -> list[str]:
        sent = []
        with smtp_client(listener) as client:
            for n in range(5):
                raw = RAW + f"sender {sender} message {n}\r\n".encode()
                client.sendmail(f"sender{sender}@example.org", ["support@example.com"], raw)
                sent.append(f"{sender}-{n}")
        return sent

    with running(deliver) as listener, ThreadPoolExecutor(max_workers=4) as pool:
        results = [f.result(TIMEOUT) for f in [pool.submit(send_five, s) for s in range(4)]]

    assert sum(len(r) for r in results) == 20
    assert len(recorder.envelopes) == 20
    assert {e.mail_from for e in recorder.envelopes} == {f"sender{s}@example.org" for s in range(4)}


def test_null_sender_and_smtputf8_addresses() -> None:
    """
    GIVEN a listener
    WHEN a bounce arrives with the null reverse-path, and a message arrives with SMTPUTF8 addresses
    THEN mail_from is "" for the bounce and the UTF-8 addresses arrive intact
    """
    recorder = Recorder()
    with running(recorder) as listener, smtp_client(listener) as client:
        client.sendmail("<>", ["support@example.com"], RAW)
        client.sendmail("jürgen@example.org", ["støtte@example.com"], RAW, mail_options=["SMTPUTF8"])

    assert [(e.mail_from, e.rcpt_tos) for e in recorder.envelopes] == [
        ("", ("support@example.com",)),
        ("jürgen@example.org", ("støtte@example.com",)),
    ]


def test_lines_longer_than_rfc_limit_are_accepted() -> None:
    """
    GIVEN a listener
    WHEN a message carries a 20,000-character HTML line (common from broken generators)
    THEN it is delivered unchanged rather than bounced
    """
    recorder = Recorder()
    raw = RAW + b"<p>" + b"a" * 20_000 + b"</p>\r\n"
    with running(recorder) as listener, smtp_client(listener) as client:
        client.sendmail("kunde@example.org", ["support@example.com"], raw)

    assert [e.raw for e in recorder.envelopes] == [raw]


def test_port_zero_binds_a_free_port_and_stop_releases_it() -> None:
    """
    GIVEN a listener asked for port 0
    WHEN it is started, stopped, and a new listener is started on the same port
    THEN the bound port is exposed, stop() is idempotent, and the port is free again
    """
    first = InboundListener(Recorder(), host=HOST, port=0, max_bytes=MAX_BYTES)
    assert first.port == 0
    first.start()
    port = first.port
    assert port != 0
    assert first.is_running
    with pytest.raises(RuntimeError):
        first.start()
    first.stop()
    first.stop()
    assert not first.is_running

    recorder = Recorder()
    with InboundListener(recorder, host=HOST, port=port, max_bytes=MAX_BYTES) as second:
        with smtplib.SMTP(HOST, port, timeout=TIMEOUT) as client:
            client.sendmail("kunde@example.org", ["support@example.com"], RAW)
        assert second.port == port
    assert len(recorder.envelopes) == 1


def test_format_peer_and_sanitise_reason() -> None:
    """
    GIVEN socket addresses and reasons with control and non-ASCII characters
    WHEN they are formatted
    THEN peers read host:port ([v6]:port), reasons are one printable ASCII line of bounded length
    """
    assert format_peer(("192.0.2.1", 2525)) == "192.0.2.1:2525"
    assert format_peer(("2001:db8::1", 2525, 0, 0)) == "[2001:db8::1]:2525"
    assert sanitise_reason("bad\r\nthing\tü") == "bad thing"
    assert len(sanitise_reason("x" * 1000)) == 200
    assert DeliveryOutcome.rejected("r").status is DeliveryStatus.REJECTED


class RawSession:
    """A client speaking SMTP over a plain socket, to send the data section in whatever pieces a test needs."""

    def __init__(self, listener: InboundListener) -> None:
        self.sock = socket.create_connection((HOST, listener.port), timeout=TIMEOUT)
        self.pending = b""
        assert self.reply().startswith(b"220")
        self.send(b"EHLO client.example.org\r\n")
        assert self.reply().startswith(b"250")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """One reply, multi-line ones joined: lines up to the one whose code is followed by a space."""
        lines = []
        while True:
            while b"\r\n" not in self.pending:
                chunk = self.sock.recv(4096)
                assert chunk, "connection closed"
                self.pending += chunk
            line, self.pending = self.pending.split(b"\r\n", 1)
            lines.append(line)
            if line[3:4] == b" ":
                return b"\n".join(lines)

    def start_data(self) -> None:
        for command in (b"MAIL FROM:<kunde@example.org>\r\n", b"RCPT TO:<support@example.com>\r\n", b"DATA\r\n"):
            self.send(command)
            assert self.reply()[:3] in (b"250", b"354")

    def close(self) -> None:
        self.sock.close()


@contextmanager
def raw_session(listener: InboundListener) -> Iterator[RawSession]:
    session = RawSession(listener)
    try:
        yield session
    finally:
        session.close()


@pytest.mark.parametrize(
    ("wire", "content"),
    [
        (b".\r\n", b""),
        (b"\r\n.\r\n", b"\r\n"),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),
        (b"..hidden dot\r\nx\r\n...\r\n.\r\n", b".hidden dot\r\nx\r\n..\r\n"),
        (b"a\r\n\r\nb\r\n.\r\n", b"a\r\n\r\nb\r\n"),
        (b"no dot. here\r\n. not the end\r\n.\r\n", b"no dot. here\r\n not the end\r\n"),
    ],
    ids=["empty", "one-empty-line", "one-char", "stuffed-lone-dot", "stuffed-lines", "blank-line", "dot-text"],
)
@pytest.mark.parametrize("piece", [1, 2, 3, 4096], ids=lambda n: f"{n}-byte-writes")
def test_data_section_is_read_exactly_however_it_is_split(wire: bytes, content: bytes, piece: int) -> None:
    """
    GIVEN a listener
    WHEN a data section (empty, short lines, transparency dots) arrives in pieces of 1 to 4096 bytes
    THEN the end is found wherever the pieces split it, and the message is exactly the unstuffed lines
    """
    recorder = Recorder()
    with running(recorder) as listener, raw_session(listener) as session:
        session.start_data()
        for start in range(0, len(wire), piece):
            session.send(wire[start : start + piece])
        assert session.reply().startswith(b"250 2.0.0")

    assert [e.raw for e in recorder.envelopes] == [content]


def test_commands_pipelined_after_the_data_are_answered_in_order() -> None:
    """
    GIVEN a listener
    WHEN a client sends the end of one message and the next transaction's commands in one write (RFC 2920)
    THEN both messages are delivered, each with its own bytes, and every command gets its reply in order
    """
    recorder = Recorder()
    with running(recorder) as listener, raw_session(listener) as session:
        session.start_data()
        session.send(
            b"first\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n"
            b"second\r\n.\r\nQUIT\r\n"
        )
        replies = [session.reply()[:3] for _ in range(6)]

    assert replies == [b"250", b"250", b"250", b"354", b"250", b"221"]
    assert [e.raw for e in recorder.envelopes] == [b"first\r\n", b"second\r\n"]


def test_oversized_data_split_at_the_end_is_refused_and_the_session_goes_on() -> None:
    """
    GIVEN a listener with max_bytes of 64 KiB
    WHEN a too large message arrives in 1 KiB writes with its end split between writes, then a small one follows
    THEN the first is answered 552 without being delivered, and the second is accepted on the same connection
    """
    recorder = Recorder()
    wire = (b"z" * 1000 + b"\r\n") * 80 + b".\r\n"
    with running(recorder) as listener, raw_session(listener) as session:
        session.start_data()
        for start in range(0, len(wire), 1021):
            session.send(wire[start : start + 1021])
        assert session.reply().startswith(b"552 5.3.4")
        session.start_data()
        session.send(b"small\r\n.\r\n")
        assert session.reply().startswith(b"250")

    assert [e.raw for e in recorder.envelopes] == [b"small\r\n"]
