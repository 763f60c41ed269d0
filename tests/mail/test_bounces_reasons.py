"""The bounce classifier: status code, reply code and diagnostic text to a reason, and hard or soft."""

from __future__ import annotations

import pytest

from postroom.mail.bounces.codes import find_reply_code, find_smtp_command, refine_status
from postroom.mail.bounces.reasons import classify_reason, flatten_reply, is_hard
from postroom.mail.bounces.values import Reason


@pytest.mark.parametrize(
    ("status", "diagnostic", "reason"),
    [
        ("5.1.1", "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown", Reason.USER_UNKNOWN),
        ("5.0.0", "550 sorry, no mailbox here by that name", Reason.USER_UNKNOWN),
        ("5.1.2", "550 5.1.2 Bad destination system address", Reason.HOST_UNKNOWN),
        ("5.0.0", "Host or domain name not found. Name service error for name=x.example type=A", Reason.HOST_UNKNOWN),
        ("5.2.2", "552 5.2.2 Over quota", Reason.MAILBOX_FULL),
        ("5.0.0", "550 Mailbox is full", Reason.MAILBOX_FULL),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", Reason.MESG_TOO_BIG),
        ("5.7.1", "554 5.7.1 Client host rejected: blocked using zen.spamhaus.org", Reason.BLOCKED),
        ("5.7.1", "550 5.7.1 Message rejected as spam", Reason.SPAM_DETECTED),
        ("5.7.26", "550 5.7.26 Unauthenticated email from example.com is not accepted", Reason.AUTH_FAILURE),
        ("5.7.1", "554 5.7.1 Relay access denied", Reason.NO_RELAYING),
        ("5.1.8", "553 5.1.8 Sender address rejected: Domain not found", Reason.REJECTED),
        ("5.0.0", "550 Sender verify failed", Reason.REJECTED),
        ("4.4.7", "", Reason.EXPIRED),
        ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled", Reason.SUSPEND),
        ("5.1.6", "550 5.1.6 user has moved", Reason.HAS_MOVED),
        ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; null MX", Reason.NOT_ACCEPT),
        ("5.0.0", "550 Message rejected: this message was filtered by the recipient's rules", Reason.FILTERED),
    ],
)
def test_status_and_text_name_the_reason(status: str, diagnostic: str, reason: Reason) -> None:
    """
    GIVEN a failed recipient's status code and the server's reply
    WHEN it is classified
    THEN the reason is the one the code or the reply's words name
    """
    assert classify_reason(status, find_reply_code(diagnostic, status), diagnostic, "failed") is reason


def test_multi_line_replies_are_read_as_one_sentence() -> None:
    """
    GIVEN Gmail's multi-line reply, each line repeating "550-5.7.1"
    WHEN it is classified
    THEN the words across the line breaks count ("multiple addresses in From:"), not the 5.7.1 default
    """
    reply = "550-5.7.1 Messages with multiple\n550-5.7.1 addresses in From: header are not accepted."
    assert "multiple addresses in From:" in flatten_reply(reply)
    assert classify_reason("5.7.1", "550", reply, "failed") is Reason.NOT_COMPLIANT_RFC


def test_user_unknown_after_data_is_a_filter() -> None:
    """
    GIVEN "User unknown" in answer to DATA (Postfix's "(in reply to end of DATA command)")
    WHEN it is classified
    THEN it is `filtered` and soft: the server accepted the recipient at RCPT TO, so the address exists
    """
    text = "host mx.example.jp said: 550 Unknown user bob@example.jp (in reply to end of DATA command)"
    command = find_smtp_command(text)
    reason = classify_reason("5.0.0", "550", text, "failed", command=command)
    assert command == "DATA" and reason is Reason.FILTERED and not is_hard(reason, "5.0.0")


def test_pipelined_rcpt_refusal_after_data_is_still_the_recipient() -> None:
    """
    GIVEN a Sendmail transcript where the RCPT TO refusal shows after ">>> DATA" (PIPELINING) and "no valid recipients"
    WHEN the SMTP command is looked for
    THEN it is RCPT
    """
    transcript = ">>> DATA\n<<< 550 5.1.1 <bob@x.example>... User unknown\n550 5.1.1 <bob@x.example>... User unknown\n"
    assert find_smtp_command(transcript + "<<< 554 Error: no valid recipients\n") == "RCPT"
    assert find_smtp_command(">>> DATA\n<<< 550 Unknown user bob@x.example\n") == "DATA"


def test_temporary_failures_are_never_dead_addresses() -> None:
    """
    GIVEN temporary failures: a DNS lookup that failed for now, a delay, a mailbox full
    WHEN classified
    THEN none is hard; a temporary "domain not found" is a network error, a delay is expired
    """
    dns = "DNS Error: lookup of example.jp responded with code NXDOMAIN Domain name not found"
    assert classify_reason("4.0.0", "", dns, "failed") is Reason.NETWORK_ERROR
    assert classify_reason("4.4.1", "421", "Connection refused", "delayed") is Reason.EXPIRED
    for reason, status in ((Reason.NETWORK_ERROR, "4.0.0"), (Reason.EXPIRED, "4.4.7"), (Reason.MAILBOX_FULL, "5.2.2")):
        assert not is_hard(reason, status)


@pytest.mark.parametrize(
    ("reason", "status", "reply_code", "hard"),
    [
        (Reason.USER_UNKNOWN, "5.1.1", "550", True),
        (Reason.HOST_UNKNOWN, "5.1.2", "", True),
        (Reason.HAS_MOVED, "5.1.6", "", True),
        (Reason.NOT_ACCEPT, "5.1.10", "", True),
        (Reason.NOT_ACCEPT, "4.3.2", "421", False),
        (Reason.BLOCKED, "5.7.1", "554", False),
        (Reason.SPAM_DETECTED, "5.7.1", "550", False),
        (Reason.FILTERED, "5.0.0", "550", False),
        (Reason.DELIVERED, "2.0.0", "250", False),
    ],
)
def test_hard_means_the_address_is_dead(reason: Reason, status: str, reply_code: str, hard: bool) -> None:
    """
    GIVEN a reason and its codes
    WHEN hard/soft is decided
    THEN only unknown mailboxes and domains, moved mailboxes and domains refusing all mail for good are hard
    """
    assert is_hard(reason, status, reply_code) is hard


def test_status_and_reply_code_are_read_from_the_remote_words() -> None:
    """
    GIVEN a relay's summary code before the remote server's quoted reply
    WHEN the status and reply code are read
    THEN the remote server's specific ones win, and a status of the other class is not taken
    """
    quoted = "5.1.0 - Unknown address error 550-'5.2.2 <bob@x.example>... Mailbox Full'"
    assert refine_status("5.1.0", quoted) == "5.2.2"
    assert find_reply_code(quoted, "5.2.2") == "550"
    assert refine_status("5.0.0", "421 4.4.2 timed out") == "5.0.0"
    assert find_reply_code("ERROR_CODE :550, ERROR_CODE :5.1.1 User Unknown", "5.1.1") == "550"
    assert find_reply_code("delivered at 10:25 250 OK", "5.1.1") == ""


def test_refusals_before_any_recipient_are_about_us_not_the_address() -> None:
    """GIVEN refusals that answered MAIL FROM or the greeting, worded like dead addresses THEN they are about our
    sender (rejected) or our host (blocked), and neither marks the recipient dead."""
    exim = (
        "SMTP error from remote mail server after MAIL FROM:<sender@neko.example> SIZE=1022:\n"
        "553 5.1.0 sender neko.example does not exist"
    )
    command = find_smtp_command(exim)
    assert command == "MAIL"
    rejected = classify_reason("5.1.0", "553", exim, "failed", command=command)
    assert rejected is Reason.REJECTED and not is_hard(rejected, "5.1.0", "553")
    qmail = "Connected to 192.0.2.1 but my name was rejected.\nRemote host said: 501 5.0.0 Invalid domain name"
    assert find_smtp_command(qmail) == "HELO"
    assert classify_reason("5.0.0", "501", qmail, "failed", command="HELO") is Reason.BLOCKED


def test_an_unknown_user_with_a_policy_status_is_a_filter() -> None:
    """RFC 3463 X.7.x is a security or policy refusal: "User unknown" under it does not prove a dead mailbox."""
    words = "550 5.7.1 <bob@example.fr>: Recipient address rejected: User unknown"
    assert classify_reason("5.7.1", "550", words, "failed", command="RCPT") is Reason.FILTERED
    assert classify_reason("5.1.1", "550", words.replace("5.7.1", "5.1.1"), "failed") is Reason.USER_UNKNOWN
