"""IMAP mailboxes with a public-key pin: the right key reads mail, a wrong one is refused before any login."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw, imap_mailbox

from dovecotserver import append_messages, needs_dovecot, serve_dovecot
from postroom.connectors.runner import MailboxRunner
from postroom.inbound.models import InboundMessage
from postroom.mail.transport.imap_fetch import ImapSetupError
from postroom.mail.transport.tlspin import spki_sha256

pytestmark = [pytest.mark.live, needs_dovecot, pytest.mark.django_db(transaction=True)]

USERS = {"pinned@example.test": "pinned-pw", "mispinned@example.test": "mispinned-pw"}


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_dovecot(tmp_path_factory, USERS)


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


def server_pin(dovecot: Any) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(dovecot.cert_file.read_bytes())
    return spki_sha256(cert.public_bytes(Encoding.DER))


def run_one_cycle(mailbox_id: int) -> None:
    runner = MailboxRunner(mailbox_id, lambda: True)
    try:
        runner.run_cycle()
    finally:
        runner.drop_session()


def test_the_servers_own_pin_reads_mail(dovecot: Any) -> None:
    user = "pinned@example.test"
    append_messages(dovecot, user, [build_raw("pinned one")])
    mailbox = imap_mailbox(dovecot, user, pin_sha256=[server_pin(dovecot)])
    run_one_cycle(mailbox.pk)
    assert InboundMessage.objects.filter(mailbox_id=mailbox.pk).count() == 1


def test_a_wrong_pin_is_refused_before_the_password_is_sent(dovecot: Any) -> None:
    """GIVEN a mailbox whose pin is another key WHEN a cycle runs THEN TLS is refused naming the pin mismatch and the
    server's real pin, no login reaches Dovecot and nothing is stored."""
    user = "mispinned@example.test"
    append_messages(dovecot, user, [build_raw("mispinned one")])
    wrong = "sha256/" + "A" * 43 + "="
    mailbox = imap_mailbox(dovecot, user, pin_sha256=wrong)
    logins_before = dovecot.log_text().count(f"Login: user=<{user}>")  # the test's own APPEND logged in
    with pytest.raises(ImapSetupError, match="matches none of the configured pins") as refused:
        run_one_cycle(mailbox.pk)
    assert server_pin(dovecot) in str(refused.value)
    assert dovecot.log_text().count(f"Login: user=<{user}>") == logins_before
    assert not InboundMessage.objects.filter(mailbox_id=mailbox.pk).exists()
