"""The spam scanner clients (postroom.mail.spam): spamd's SPAMC protocol, rspamd's /checkv2 against a local HTTP
stub, trusted upstream header fields, thresholds and the scan size cut. Pure: no database."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from postroom.mail.spam import (
    Envelope,
    ScannerError,
    ScanOutcome,
    SpamAction,
    SpamThresholds,
    cut_for_scan,
    judge_score,
    parse_rspamd_url,
    parse_spamd_url,
    read_upstream_verdict,
    scan_with_rspamd,
    scan_with_spamd,
)
from postroom.mail.spam.spamd import SpamdAddress, build_request, parse_response
from spamdserver import GTUBE, free_port, needs_spamd, serve_spamd

HAM = b"From: c@example.org\r\nTo: support@example.test\r\nSubject: Printer\r\n\r\nMy printer is on fire.\r\n"
SPAM = b"From: s@example.org\r\nTo: support@example.test\r\nSubject: cheap\r\n\r\n" + GTUBE.encode() + b"\r\n"

# rspamd's documented /checkv2 reply (rspamd.com/doc/developers/protocol.html), trimmed to what matters here.
RSPAMD_REPLY: dict[str, Any] = {
    "is_skipped": False,
    "score": 15.0,
    "required_score": 15.0,
    "action": "reject",
    "symbols": {
        "GTUBE": {"name": "GTUBE", "score": 0.0, "metric_score": 0.0},
        "MISSING_DATE": {"name": "MISSING_DATE", "score": 1.0, "metric_score": 1.0},
        "R_SPF_NA": {"name": "R_SPF_NA", "score": 0.0, "metric_score": 0.0},
        "MIME_GOOD": {"name": "MIME_GOOD", "score": -0.1, "metric_score": -0.1},
        "MISSING_MID": {"name": "MISSING_MID", "score": 2.5, "metric_score": 2.5},
    },
    "messages": {},
    "message-id": "undef",
    "time_real": 0.1,
    "milter": {"remove_headers": {"X-Spam": 0}},
}


# --- spamd: protocol --------------------------------------------------------------------------------------------


def test_request_carries_the_exact_content_length() -> None:
    """GIVEN a message WHEN the SYMBOLS request is built THEN its Content-length is the message's byte count."""
    request = build_request(SPAM)
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [b"SYMBOLS SPAMC/1.5", f"Content-length: {len(SPAM)}".encode()]
    assert body == SPAM


def test_spamd_answer_is_read_into_score_threshold_flag_and_rules() -> None:
    """GIVEN spamd's SYMBOLS answer for GTUBE WHEN parsed THEN score, required score, flag and rule names."""
    answer = b"SPAMD/1.1 0 EX_OK\r\nContent-length: 24\r\nSpam: True ; 1003.3 / 5.0\r\n\r\nGTUBE,MISSING_DATE,NO_RELAYS"
    scan = parse_response(answer)
    assert (scan.outcome, scan.score, scan.required, scan.scanner_flag) == (ScanOutcome.SCANNED, 1003.3, 5.0, True)
    assert scan.rules == ("GTUBE", "MISSING_DATE", "NO_RELAYS")


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"SPAMD/1.0 76 Bad header line: (EOF)\r\n\r\n", "refused the message: 76"),
        (b"HTTP/1.1 200 OK\r\n\r\n", "something else"),
        (b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", "no Spam: header"),
        (b"", "something else"),
    ],
)
def test_spamd_errors_and_garbage_are_scanner_errors(answer: bytes, why: str) -> None:
    with pytest.raises(ScannerError, match=why):
        parse_response(answer)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("spamd://127.0.0.1:10783", SpamdAddress(host="127.0.0.1", port=10783)),
        ("spamd://scanner.internal", SpamdAddress(host="scanner.internal", port=783)),
        ("spamd:///run/spamd.sock", SpamdAddress(socket_path="/run/spamd.sock")),
    ],
)
def test_spamd_urls(url: str, address: SpamdAddress) -> None:
    assert parse_spamd_url(url) == address


@pytest.mark.parametrize("url", ["http://127.0.0.1:783", "spamd://", "spamd://host:99999", "spamd:relative"])
def test_bad_spamd_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="spamd"):
        parse_spamd_url(url)


def test_spamd_down_is_a_scanner_error_at_once() -> None:
    """GIVEN no server on a port WHEN scanning THEN ScannerError "unreachable", well within the timeout."""
    started = time.monotonic()
    with pytest.raises(ScannerError, match="unreachable"):
        scan_with_spamd(HAM, SpamdAddress(host="127.0.0.1", port=free_port()), timeout=5)
    assert time.monotonic() - started < 5


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts and never answers: a hung scanner."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=2)
    for sock in accepted:
        sock.close()
    server.close()


def test_a_hung_spamd_times_out(silent_server: int) -> None:
    """GIVEN a server that accepts and never answers WHEN scanning with a 0.3 s timeout THEN ScannerError saying so."""
    with pytest.raises(ScannerError, match=r"did not answer within 0.3 s"):
        scan_with_spamd(HAM, SpamdAddress(host="127.0.0.1", port=silent_server), timeout=0.3)


@pytest.mark.live
@needs_spamd
def test_live_spamd_scores_gtube_as_spam_and_a_plain_message_under_five() -> None:
    """GIVEN a private spamd --local WHEN GTUBE and a plain message are scanned THEN GTUBE scores 1000 or more with
    the GTUBE rule, the plain message less than spamd's 5.0."""
    for server in serve_spamd():
        address = parse_spamd_url(server.url)
        spam = scan_with_spamd(SPAM, address, timeout=30)
        ham = scan_with_spamd(HAM, address, timeout=30)
        assert spam.score is not None and spam.score >= 1000 and "GTUBE" in spam.rules and spam.scanner_flag
        assert ham.score is not None and ham.score < 5 and ham.required == 5.0 and not ham.scanner_flag


# --- rspamd: HTTP stub ------------------------------------------------------------------------------------------


class RspamdStub(BaseHTTPRequestHandler):
    reply: ClassVar[tuple[int, bytes]] = (200, json.dumps(RSPAMD_REPLY).encode())
    seen: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        RspamdStub.seen.append((self.path, dict(self.headers.items()), body))
        status, payload = RspamdStub.reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def rspamd_stub() -> Iterator[str]:
    RspamdStub.seen.clear()
    RspamdStub.reply = (200, json.dumps(RSPAMD_REPLY).encode())
    server = ThreadingHTTPServer(("127.0.0.1", 0), RspamdStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rspamd_reply_gives_score_action_and_heaviest_symbols_first(rspamd_stub: str) -> None:
    """
    GIVEN an rspamd stub answering its documented /checkv2 JSON
    WHEN a message is scanned with the envelope
    THEN the request went to /checkv2 with the bytes and From/Rcpt/IP headers; the scan has score, required score,
         action and the symbols heaviest first
    """
    envelope = Envelope(mail_from="s@example.org", recipients=("support@example.test",), client_ip="192.0.2.7")
    scan = scan_with_rspamd(SPAM, parse_rspamd_url(rspamd_stub), timeout=5, envelope=envelope)
    path, headers, body = RspamdStub.seen[0]
    assert path == "/checkv2" and body == SPAM
    assert (headers["From"], headers["Rcpt"], headers["IP"]) == ("s@example.org", "support@example.test", "192.0.2.7")
    assert (scan.score, scan.required, scan.action, scan.scanner_flag) == (15.0, 15.0, "reject", True)
    assert scan.rules[:3] == ("MISSING_MID", "MISSING_DATE", "MIME_GOOD")


@pytest.mark.parametrize(
    ("reply", "why"),
    [((500, b"oops"), "HTTP 500"), ((200, b"<html>"), "not JSON"), ((200, b'{"action": "reject"}'), "no score")],
)
def test_rspamd_errors_are_scanner_errors(rspamd_stub: str, reply: tuple[int, bytes], why: str) -> None:
    RspamdStub.reply = reply
    with pytest.raises(ScannerError, match=why):
        scan_with_rspamd(HAM, parse_rspamd_url(rspamd_stub), timeout=5)


def test_rspamd_down_and_hung_are_scanner_errors(silent_server: int) -> None:
    with pytest.raises(ScannerError, match="unreachable"):
        scan_with_rspamd(HAM, parse_rspamd_url(f"http://127.0.0.1:{free_port()}"), timeout=5)
    with pytest.raises(ScannerError, match=r"did not answer within 0\.3 s"):
        scan_with_rspamd(HAM, parse_rspamd_url(f"http://127.0.0.1:{silent_server}"), timeout=0.3)


# --- trusted upstream header fields -----------------------------------------------------------------------------


def test_spamassassin_status_with_folded_tests_list() -> None:
    headers = [
        ("X-Spam-Flag", "YES"),
        (
            "X-Spam-Status",
            "Yes, score=12.3 required=5.0 tests=BAYES_99,\r\n\tHTML_MESSAGE,URIBL_BLACK\r\n\tautolearn=no",
        ),
    ]
    scan = read_upstream_verdict(headers)
    assert (scan.scanner, scan.score, scan.required, scan.scanner_flag) == ("headers", 12.3, 5.0, True)
    assert scan.rules == ("BAYES_99", "HTML_MESSAGE", "URIBL_BLACK")


def test_the_first_field_is_the_trusted_filters_own() -> None:
    """GIVEN the filter's X-Spam-Status on top and a forged "No, score=-100" the sender wrote further down
    WHEN read THEN the top one counts."""
    headers = [
        ("X-Spam-Status", "Yes, score=9.1 required=5.0 tests=GTUBE"),
        ("Subject", "hi"),
        ("X-Spam-Status", "No, score=-100.0 required=5.0 tests=none"),
    ]
    assert read_upstream_verdict(headers).score == 9.1


def test_rspamd_result_and_bare_scores_and_flags() -> None:
    result = read_upstream_verdict(
        [("X-Spamd-Result", "default: True [15.00 / 15.00]; GTUBE(0.00)[]; MISSING_MID(2.50)[]; ARC_NA(0.00)[]")]
    )
    assert (result.score, result.required, result.scanner_flag) == (15.0, 15.0, True)
    assert result.rules[0] == "MISSING_MID"
    assert read_upstream_verdict([("X-Rspamd-Score", "6.5")]).score == 6.5
    assert read_upstream_verdict([("X-Spam-Score", "-0.2")]).score == -0.2
    assert read_upstream_verdict([("X-Spam-Level", "*******")]).score == 7.0
    flagged = read_upstream_verdict([("X-Spam-Flag", "YES")])
    assert (flagged.score, flagged.scanner_flag, flagged.outcome) == (None, True, ScanOutcome.SCANNED)


def test_no_spam_field_at_all_is_unscanned() -> None:
    scan = read_upstream_verdict([("Subject", "hello"), ("X-Mailer", "x")])
    assert scan.outcome == ScanOutcome.UNSCANNED and "upstream" in scan.error


# --- thresholds and the size cut --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "action"),
    [
        (None, SpamAction.PASS),
        (4.9, SpamAction.PASS),
        (5.0, SpamAction.TAG),
        (8.0, SpamAction.QUARANTINE),
        (19.9, SpamAction.QUARANTINE),
        (20.0, SpamAction.DROP),
    ],
)
def test_judge_score(score: float | None, action: SpamAction) -> None:
    assert judge_score(score, SpamThresholds(tag=5.0, quarantine=8.0, drop=20.0)) == action


def test_without_a_drop_threshold_nothing_is_dropped() -> None:
    assert judge_score(1000.0, SpamThresholds()) == SpamAction.QUARANTINE


def test_cut_for_scan_keeps_whole_lines_under_the_limit() -> None:
    raw = b"Subject: x\r\n\r\n" + b"line of text\r\n" * 1000
    cut, truncated = cut_for_scan(raw, 100)
    assert truncated and len(cut) <= 100 and cut.endswith(b"\r\n") and raw.startswith(cut)
    assert cut_for_scan(raw, len(raw)) == (raw, False)
