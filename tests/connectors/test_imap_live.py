"""The IMAP connector against a real Dovecot over TLS: polling, post-actions, IDLE, UIDVALIDITY, trust, health."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connectorkit import build_raw, imap_mailbox, wait_for

from dovecotserver import append_messages, create_folder, list_flags, needs_dovecot, serve_dovecot, set_uidvalidity
from postroom.connectors.health import get_health
from postroom.connectors.models import FolderCursor
from postroom.connectors.poller import Poller
from postroom.connectors.runner import MailboxRunner
from postroom.inbound.models import InboundMessage
from postroom.inbound.services import process_inbound
from postroom.mail.transport.imap_fetch import ImapSetupError
from postroom.outbound.models import Delivery
from testpki import make_ca, write_pem

pytestmark = [pytest.mark.live, needs_dovecot, pytest.mark.django_db(transaction=True)]

USERS = {
    name + "@example.test": name + "-pw"
    for name in ("poll", "keep", "seen", "move", "delete", "idle", "uidv", "trust", "healthy", "broken")
}


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_dovecot(tmp_path_factory, USERS)


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    """The test server is on loopback, which the SSRF guard refuses unless the operator allows it."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


def run_one_cycle(mailbox_id: int) -> MailboxRunner:
    runner = MailboxRunner(mailbox_id, lambda: True)
    try:
        runner.run_cycle()
    finally:
        runner.drop_session()
    return runner


def ledger(mailbox_id: int) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(mailbox_id=mailbox_id).order_by("source_key"))


def test_polling_commits_every_message_once_in_batches_then_marks_it_seen(dovecot: Any) -> None:
    """GIVEN 5 unread messages and a batch size of 2 WHEN one cycle runs THEN 5 ledger rows keyed
    imap:<mailbox>:INBOX:<uidvalidity>:<uid>, all seen on the server, and they become tickets;
    WHEN another cycle runs THEN nothing new."""
    user = "poll@example.test"
    append_messages(dovecot, user, [build_raw(f"poll {i}") for i in range(5)])
    mailbox = imap_mailbox(dovecot, user, batch=2, post_action="seen")
    run_one_cycle(mailbox.pk)
    rows = ledger(mailbox.pk)
    cursor = FolderCursor.objects.get(mailbox_id=mailbox.pk, folder="INBOX")
    assert [r.source_key for r in rows] == [
        f"imap:{mailbox.pk}:INBOX:{cursor.uidvalidity}:{uid}" for uid in range(1, 6)
    ]
    assert cursor.last_uid == 5
    assert all("\\Seen" in flags for flags in list_flags(dovecot, user).values())
    assert all(process_inbound(r.pk) == "processed" for r in rows)
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 5
    health = get_health(mailbox.pk)
    assert health is not None and health.consecutive_failures == 0 and health.last_success_at is not None
    assert health.last_lag_seconds is not None


@pytest.mark.parametrize(
    ("user", "action"),
    [
        ("keep@example.test", "keep"),
        ("seen@example.test", "seen"),
        ("move@example.test", "move"),
        ("delete@example.test", "delete"),
    ],
)
def test_post_action_is_applied_after_the_commit(dovecot: Any, user: str, action: str) -> None:
    """GIVEN two unread messages WHEN a cycle commits them THEN the post-action happened on the server: keep leaves
    them unread, seen flags them, move puts them in the target folder, delete removes them."""
    append_messages(dovecot, user, [build_raw(f"{action} 1"), build_raw(f"{action} 2")])
    create_folder(dovecot, user, "Processed")
    mailbox = imap_mailbox(dovecot, user, post_action=action, move_to="Processed")
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 2
    inbox, processed = list_flags(dovecot, user), list_flags(dovecot, user, "Processed")
    if action == "keep":
        assert len(inbox) == 2 and all("\\Seen" not in f for f in inbox.values()) and processed == {}
    elif action == "seen":
        assert len(inbox) == 2 and all("\\Seen" in f for f in inbox.values())
    elif action == "move":
        assert inbox == {} and len(processed) == 2
    else:
        assert inbox == {} and processed == {}


def test_idle_delivers_new_mail_without_waiting_for_the_poll_interval(dovecot: Any) -> None:
    """GIVEN a reader idling on INBOX with a one-hour poll interval WHEN a message is delivered THEN its ledger row
    appears within seconds (IDLE, not polling) and it becomes a ticket."""
    user = "idle@example.test"
    mailbox = imap_mailbox(dovecot, user, poll_seconds=3600)
    runner = MailboxRunner(mailbox.pk, lambda: True)
    runner.start()
    try:
        wait_for(lambda: get_health(mailbox.pk), timeout=15, what="the first cycle")
        append_messages(dovecot, user, [build_raw("idle push")])
        row = wait_for(lambda: InboundMessage.objects.filter(mailbox_id=mailbox.pk).first(), timeout=10, what="IDLE")
    finally:
        runner.stop()
        runner.join(10)
    assert not runner.is_alive()
    assert process_inbound(row.pk) == "processed"
    row.refresh_from_db()
    assert row.message is not None and row.message.ticket.subject == "idle push"


def test_uidvalidity_change_loses_nothing_and_duplicates_nothing(dovecot: Any) -> None:
    """GIVEN two committed messages (kept unread) WHEN the folder's UIDVALIDITY changes and a third arrives THEN the
    next cycle adds exactly one row, recognises the two by their bytes and still applies the post-action to them."""
    user = "uidv@example.test"
    append_messages(dovecot, user, [build_raw("before 1"), build_raw("before 2")])
    mailbox = imap_mailbox(dovecot, user, post_action="keep")
    run_one_cycle(mailbox.pk)
    old = FolderCursor.objects.get(mailbox_id=mailbox.pk).uidvalidity
    set_uidvalidity(dovecot, user, old + 1000)
    append_messages(dovecot, user, [build_raw("after")])
    mailbox.settings = {**mailbox.settings, "post_action": "seen"}
    mailbox.save()
    run_one_cycle(mailbox.pk)
    rows = ledger(mailbox.pk)
    assert len(rows) == 3
    assert len({r.raw_sha256 for r in rows}) == 3
    assert sum(r.source_key.startswith(f"imap:{mailbox.pk}:INBOX:{old + 1000}:") for r in rows) == 1
    cursor = FolderCursor.objects.get(mailbox_id=mailbox.pk)
    assert (cursor.uidvalidity, cursor.last_uid, cursor.resync_below_uid) == (old + 1000, 3, 0)
    assert all("\\Seen" in f for f in list_flags(dovecot, user).values())


def test_a_server_certificate_from_another_ca_is_refused_with_a_clear_error(dovecot: Any, tmp_path: Path) -> None:
    """GIVEN a mailbox that trusts a different CA WHEN a cycle runs THEN it fails before login with an error naming
    the untrusted certificate, nothing is stored and the message stays unread on the server."""
    user = "trust@example.test"
    append_messages(dovecot, user, [build_raw("secret")])
    _, other_ca = make_ca("Someone Else's CA")
    mailbox = imap_mailbox(dovecot, user, ca_file=str(write_pem(tmp_path / "other.pem", other_ca)))
    logins_before = dovecot.log_text().count("Login: user=<trust@example.test>")
    with pytest.raises(ImapSetupError, match="certificate is not trusted"):
        run_one_cycle(mailbox.pk)
    assert dovecot.log_text().count("Login: user=<trust@example.test>") == logins_before  # no password was sent
    assert ledger(mailbox.pk) == []
    assert all("\\Seen" not in f for f in list_flags(dovecot, user).values())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_broken_mailbox_turns_unhealthy_and_alerts_while_a_healthy_one_keeps_working(
    dovecot: Any, admin: Any
) -> None:
    """GIVEN a poller with a mailbox pointed at a closed port and a healthy one WHEN mail arrives for the healthy one
    THEN it is committed while the broken one fails; after 3 failures the broken one is unhealthy and one alert to
    the admin is queued; WHEN it is fixed THEN it recovers and one recovery notice is queued."""
    healthy = imap_mailbox(dovecot, "healthy@example.test", poll_seconds=3600)
    broken = imap_mailbox(dovecot, "broken@example.test", port=closed_port())
    poller = Poller(
        heartbeat_seconds=1,
        runner_factory=lambda mid, check: MailboxRunner(mid, check, backoff_first=0.1, backoff_max=0.2),
    )
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        append_messages(dovecot, "healthy@example.test", [build_raw("still flowing")])
        wait_for(lambda: ledger(healthy.pk), timeout=15, what="the healthy mailbox's message")
        health = wait_for(
            lambda: (h := get_health(broken.pk)) is not None and h.unhealthy_since is not None and h,
            timeout=15,
            what="the broken mailbox to turn unhealthy",
        )
        assert "refused" in health.last_error
        alerts = wait_for(lambda: list(Delivery.objects.all()), timeout=5, what="the alert")
        assert [d.recipients for d in alerts] == [[admin.email]]
        assert "stopped receiving mail" in alerts[0].message.subject
        broken.settings = {**broken.settings, "port": dovecot.imaps_port}
        broken.save()
        wait_for(
            lambda: (h := get_health(broken.pk)) is not None and h.unhealthy_since is None,
            timeout=15,
            what="recovery",
        )
        deliveries = list(Delivery.objects.order_by("pk"))
        assert len(deliveries) == 2 and "receives mail again" in deliveries[1].message.subject
        assert deliveries[1].message.ticket_id == deliveries[0].message.ticket_id
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


@pytest.fixture
def admin(db: None) -> Any:
    from django.contrib.auth import get_user_model

    from postroom.accounts.models import AgentProfile, Role
    from postroom.tenants.services import get_default_tenant

    user = get_user_model().objects.create_user("ops", email="ops@example.com", password="x")
    AgentProfile.objects.create(user=user, tenant=get_default_tenant(), role=Role.ADMIN)
    return user
