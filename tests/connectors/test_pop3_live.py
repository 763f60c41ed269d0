"""The POP3 connector against a real Dovecot over TLS: keep, delete after commit, a crash before DELE, STLS, trust,
and a POP3 mailbox read by the poller under a lease."""

from __future__ import annotations

import dataclasses
import hashlib
import poplib
import ssl
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from connectorkit import build_raw, wait_for

from dovecotserver import HOST, Pop3DovecotServer, append_messages, needs_dovecot, needs_pop3, serve_pop3_dovecot
from postroom.connectors.health import get_health
from postroom.connectors.models import MailboxLease
from postroom.connectors.poller import Poller
from postroom.connectors.runner import MailboxRunner
from postroom.inbound.models import InboundMessage
from postroom.inbound.services import process_inbound
from postroom.mail.transport.pop3_fetch import ListedMessage, Pop3Session, Pop3SetupError, RetrievedMessage
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue
from testpki import make_ca, write_pem

pytestmark = [pytest.mark.live, needs_dovecot, needs_pop3, pytest.mark.django_db(transaction=True)]

USERS = {
    name + "@example.test": name + "-pw" for name in ("keep", "delete", "crash", "long", "stls", "trust", "poller")
}


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pop3DovecotServer]:
    yield from serve_pop3_dovecot(tmp_path_factory, USERS)


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    """The test server is on loopback, which the SSRF guard refuses unless the operator allows it."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


@pytest.fixture
def retrievals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every UIDL the connector RETRieves, in order (the real RETR still runs)."""
    seen: list[str] = []
    real = Pop3Session.retrieve

    def spy(self: Pop3Session, messages: Sequence[ListedMessage]) -> list[RetrievedMessage]:
        seen.extend(m.uidl for m in messages)
        return real(self, messages)

    monkeypatch.setattr(Pop3Session, "retrieve", spy)
    return seen


def pop3_mailbox(server: Pop3DovecotServer, user: str, **extra: Any) -> Mailbox:
    """An active POP3 mailbox reading `user`'s maildrop over POP3S, trusting the test CA."""
    tenant = get_default_tenant()
    settings = {
        "host": HOST,
        "port": server.pop3s_port,
        "tls": "implicit",
        "username": user,
        "ca_file": str(server.ca_file),
        **extra,
    }
    return Mailbox.objects.create(
        tenant=tenant,
        name=f"{user} {settings['tls']} {settings['port']}",
        address=user,
        kind=ConnectorKind.POP3,
        settings=settings,
        secrets={"pop3_password": server.users[user]},
        default_queue=ensure_default_queue(tenant),
    )


def server_uidls(server: Pop3DovecotServer, user: str) -> list[str]:
    """The maildrop's unique-ids as the server lists them (a separate POP3S session that changes nothing)."""
    conn = poplib.POP3_SSL(HOST, server.pop3s_port, context=ssl.create_default_context(cafile=server.ca_file))
    try:
        conn.user(user)
        conn.pass_(server.users[user])
        return [line.split()[1].decode() for line in conn.uidl()[1]]
    finally:
        conn.quit()


def run_one_cycle(mailbox_id: int) -> None:
    runner = MailboxRunner(mailbox_id, lambda: True)
    try:
        runner.run_cycle()
    finally:
        runner.drop_session()


def ledger(mailbox_id: int) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(mailbox_id=mailbox_id).order_by("pk"))


def test_keep_on_server_commits_each_message_once_and_a_second_cycle_fetches_nothing(
    dovecot: Pop3DovecotServer, retrievals: list[str]
) -> None:
    """GIVEN 5 messages on a POP3 server and a batch size of 2 WHEN one cycle runs THEN 5 ledger rows keyed
    pop3:<mailbox>:<uidl>, they become tickets and stay on the server; WHEN another cycle runs THEN no message is
    retrieved again and no row is added."""
    user = "keep@example.test"
    append_messages(dovecot, user, [build_raw(f"pop keep {i}") for i in range(5)])
    uidls = server_uidls(dovecot, user)
    mailbox = pop3_mailbox(dovecot, user, batch=2, post_action="keep")
    run_one_cycle(mailbox.pk)
    rows = ledger(mailbox.pk)
    assert sorted(r.source_key for r in rows) == sorted(f"pop3:{mailbox.pk}:{uidl}" for uidl in uidls)
    assert {r.source_kind for r in rows} == {"pop3"}
    assert retrievals == uidls
    assert all(process_inbound(r.pk) == "processed" for r in rows)
    subjects = set()
    for row in rows:
        row.refresh_from_db()
        assert row.message is not None
        subjects.add(row.message.ticket.subject)
    assert subjects == {f"pop keep {i}" for i in range(5)}
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 5
    assert retrievals == uidls  # the second cycle listed them and retrieved none
    assert server_uidls(dovecot, user) == uidls
    health = get_health(mailbox.pk)
    assert health is not None and health.consecutive_failures == 0 and health.last_success_at is not None


def test_delete_removes_messages_from_the_server_only_after_the_commit(dovecot: Pop3DovecotServer) -> None:
    """GIVEN 3 messages and post_action delete WHEN a cycle runs THEN 3 ledger rows and the maildrop is empty;
    WHEN a new message arrives and another cycle runs THEN exactly one more row."""
    user = "delete@example.test"
    append_messages(dovecot, user, [build_raw(f"pop delete {i}") for i in range(3)])
    mailbox = pop3_mailbox(dovecot, user, batch=2, post_action="delete")
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 3
    assert server_uidls(dovecot, user) == []
    assert dovecot.stored_messages(user) == []
    append_messages(dovecot, user, [build_raw("pop delete later")])
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 4
    assert server_uidls(dovecot, user) == []


def test_a_crash_between_commit_and_dele_loses_nothing_and_duplicates_nothing(
    dovecot: Pop3DovecotServer, monkeypatch: pytest.MonkeyPatch, retrievals: list[str]
) -> None:
    """GIVEN 2 messages, post_action delete, and a DELE step that fails once WHEN a cycle runs THEN it fails after
    committing both, and both are still on the server; WHEN the next cycle runs THEN nothing is retrieved again, no
    row is added, and the two are deleted from the server."""
    user = "crash@example.test"
    append_messages(dovecot, user, [build_raw("pop crash 1"), build_raw("pop crash 2")])
    uidls = server_uidls(dovecot, user)
    mailbox = pop3_mailbox(dovecot, user, post_action="delete")
    real_delete = Pop3Session.delete
    calls: list[list[int]] = []

    def delete_failing_once(self: Pop3Session, numbers: Sequence[int]) -> None:
        calls.append(list(numbers))
        if len(calls) == 1:
            raise ConnectionResetError("simulated crash before DELE")
        real_delete(self, numbers)

    monkeypatch.setattr(Pop3Session, "delete", delete_failing_once)
    with pytest.raises(ConnectionResetError):
        run_one_cycle(mailbox.pk)
    assert sorted(r.source_key for r in ledger(mailbox.pk)) == sorted(f"pop3:{mailbox.pk}:{u}" for u in uidls)
    assert server_uidls(dovecot, user) == uidls
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 2
    assert retrievals == uidls  # retrieved in the failed cycle only
    assert calls[-1] == [1, 2]  # the second cycle deleted the committed ones without fetching them
    assert server_uidls(dovecot, user) == []


def test_raw_bytes_survive_long_lines_and_leading_dots(dovecot: Pop3DovecotServer) -> None:
    """GIVEN a message with a 5,000-byte line (over poplib's 2,048 limit) and lines starting with dots WHEN a cycle
    runs THEN the committed raw bytes are exactly the delivered ones (RETR's dot-stuffing undone, CRLF kept)."""
    user = "long@example.test"
    raw = build_raw("pop long").replace(b"Body of", b"." + b"x" * 5000 + b"\r\n..two dots\r\n.\r\nBody of")
    append_messages(dovecot, user, [raw])
    mailbox = pop3_mailbox(dovecot, user, post_action="delete")
    run_one_cycle(mailbox.pk)
    rows = ledger(mailbox.pk)
    assert [r.raw_sha256 for r in rows] == [hashlib.sha256(raw).hexdigest()]


def test_stls_on_the_plain_port_is_verified_and_reads_mail(dovecot: Pop3DovecotServer) -> None:
    """GIVEN a mailbox using STLS on the POP3 port WHEN a cycle runs THEN the message is committed."""
    user = "stls@example.test"
    append_messages(dovecot, user, [build_raw("pop stls")])
    mailbox = pop3_mailbox(dovecot, user, port=dovecot.pop3_port, tls="starttls")
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 1


def test_a_server_certificate_from_another_ca_is_refused_before_login(
    dovecot: Pop3DovecotServer, tmp_path: Path
) -> None:
    """GIVEN a POP3 mailbox that trusts a different CA WHEN a cycle runs (POP3S or STLS) THEN it fails with an error
    naming the untrusted certificate, no login reached the server, nothing is stored and the message stays; the
    failure is recorded in the mailbox's health."""
    user = "trust@example.test"
    append_messages(dovecot, user, [build_raw("pop secret")])
    _, other_ca = make_ca("Someone Else's CA")
    other = str(write_pem(tmp_path / "other.pem", other_ca))
    logins_before = dovecot.log_text().count(f"Login: user=<{user}>")
    for extra in ({}, {"port": dovecot.pop3_port, "tls": "starttls"}):
        mailbox = pop3_mailbox(dovecot, user, ca_file=other, **extra)
        runner = MailboxRunner(mailbox.pk, lambda: True)
        with pytest.raises(Pop3SetupError, match="certificate is not trusted") as caught:
            runner.run_cycle()
        runner.fail(caught.value)
        assert ledger(mailbox.pk) == []
        health = get_health(mailbox.pk)
        assert health is not None and "certificate is not trusted" in health.last_error
    assert dovecot.log_text().count(f"Login: user=<{user}>") == logins_before  # no password was sent
    assert len(server_uidls(dovecot, user)) == 1


def test_the_poller_reads_a_pop3_mailbox_under_a_lease(dovecot: Pop3DovecotServer) -> None:
    """GIVEN a poller and a POP3 mailbox with one message WHEN the poller runs THEN it holds the mailbox's lease, the
    message is committed and the cycle is recorded as a success; WHEN it stops THEN the lease is released."""
    user = "poller@example.test"
    append_messages(dovecot, user, [build_raw("pop via poller")])
    mailbox = pop3_mailbox(dovecot, user, poll_seconds=3600)
    poller = Poller(heartbeat_seconds=1)
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: ledger(mailbox.pk), timeout=15, what="the POP3 message")
        lease = MailboxLease.objects.get(mailbox_id=mailbox.pk)
        assert lease.holder == poller.holder
        wait_for(
            lambda: (h := get_health(mailbox.pk)) is not None and h.last_success_at is not None,
            timeout=15,
            what="the recorded cycle",
        )
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert MailboxLease.objects.get(mailbox_id=mailbox.pk).holder == ""
