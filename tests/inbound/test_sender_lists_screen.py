"""The sender_lists screen: block and allow entries by address and domain, mailbox-specific before global, address
before domain, subdomains only with `@.domain`, and an allow entry skipping authentication only when it says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mailfactory import build_mail
from postroom.inbound import auth_dns
from postroom.inbound.models import InboundMessage, InboundStatus, ListKind, SenderListEntry
from postroom.inbound.routes import add_route
from postroom.inbound.screens.sender_lists import list_sender_keys
from postroom.mail.auth import InMemoryZone, ZoneRecord
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue

pytestmark = pytest.mark.django_db

Ingest = Callable[..., InboundMessage]


def make_mailbox(name: str = "Support", settings: dict[str, Any] | None = None) -> Mailbox:
    add_route("support@example.com", "Support")
    return Mailbox.objects.create(
        tenant=get_default_tenant(), name=name, kind=ConnectorKind.SMTP,
        default_queue=Queue.objects.get(slug="support"), settings=settings or {},
    )  # fmt: skip


def listed(pattern: str, kind: str, mailbox: Mailbox | None = None, *, skip_auth: bool = False) -> SenderListEntry:
    return SenderListEntry.objects.create(
        tenant=get_default_tenant(), pattern=pattern, kind=kind, mailbox=mailbox, skip_auth=skip_auth
    )


def lists_step(row: InboundMessage) -> dict[str, Any]:
    step = next(step for step in reversed(row.trace) if step["stage"] == "screen")
    return dict(step.get("data", {}), _reason=step["reason"])


def test_keys_go_from_the_address_to_the_widest_domain() -> None:
    assert list_sender_keys("Ann+News@Mail.Example.com") == (
        "ann+news@mail.example.com",
        "ann@mail.example.com",
        "@mail.example.com",
        "@.mail.example.com",
        "@.example.com",
        "@.com",
    )
    assert list_sender_keys("no-at-sign") == ()


def test_a_blocked_address_is_quarantined_as_blocklisted(ingest: Ingest) -> None:
    """GIVEN jane.doe@example.org on the block list WHEN she writes THEN quarantined, cause blocklisted, the entry in
    the trace."""
    entry = listed("jane.doe@example.org", ListKind.BLOCK)

    row = ingest(build_mail(), mailbox=make_mailbox())

    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "blocklisted")
    data = lists_step(row)
    assert (data["sender_list"], data["sender_list_entry"]) == ("block", entry.pk)
    assert data["_reason"].startswith("sender jane.doe@example.org is on the block list")


def test_a_domain_entry_is_that_domain_only_and_a_dot_entry_includes_subdomains(ingest: Ingest) -> None:
    """
    GIVEN @example.org blocked
    WHEN mail comes from jane@example.org and from bob@eu.example.org
    THEN the first is held, the second is not; with @.example.org blocked, the subdomain is held too
    """
    mailbox = make_mailbox()
    listed("@example.org", ListKind.BLOCK)
    assert ingest(build_mail(sender="jane@example.org"), mailbox=mailbox).cause == "blocklisted"
    assert ingest(build_mail(sender="bob@eu.example.org"), mailbox=mailbox).status == InboundStatus.PROCESSED

    listed("@.example.org", ListKind.BLOCK)
    held = ingest(build_mail(sender="bob@eu.example.org", subject="again"), mailbox=mailbox)
    assert held.cause == "blocklisted" and lists_step(held)["sender_list_pattern"] == "@.example.org"


def test_the_envelope_sender_is_checked_for_blocks_too(ingest: Ingest) -> None:
    listed("@bulk-mailer.example", ListKind.BLOCK)
    row = ingest(build_mail(), mailbox=make_mailbox(), envelope_from="bounce-77@bulk-mailer.example")
    assert row.cause == "blocklisted"


def test_address_beats_domain_and_the_mailbox_entry_beats_the_global_one(ingest: Ingest) -> None:
    """
    GIVEN @example.org blocked for every mailbox, jane.doe@example.org allowed for every mailbox, and
          bob@example.org allowed for the Sales mailbox only
    WHEN jane writes to Support, bob writes to Support, and bob writes to Sales
    THEN jane passes (the address beats the domain), bob is held at Support and passes at Sales (the mailbox's own
         entry is looked at first)
    """
    support, sales = make_mailbox("Support"), make_mailbox("Sales")
    listed("@example.org", ListKind.BLOCK)
    listed("jane.doe@example.org", ListKind.ALLOW)
    listed("bob@example.org", ListKind.ALLOW, sales)

    jane = ingest(build_mail(), mailbox=support)
    bob_support = ingest(build_mail(sender="bob@example.org"), mailbox=support)
    bob_sales = ingest(build_mail(sender="bob@example.org", subject="Sales question"), mailbox=sales)

    assert jane.status == InboundStatus.PROCESSED and lists_step(jane)["sender_list"] == "allow"
    assert bob_support.cause == "blocklisted"
    assert bob_sales.status == InboundStatus.PROCESSED
    assert "sender bob@example.org is on this mailbox's allow list" in lists_step(bob_sales)["_reason"]


def test_a_mailbox_block_beats_a_global_allow(ingest: Ingest) -> None:
    mailbox = make_mailbox()
    listed("jane.doe@example.org", ListKind.ALLOW)
    listed("@example.org", ListKind.BLOCK, mailbox)
    assert ingest(build_mail(), mailbox=mailbox).cause == "blocklisted"


@pytest.fixture
def bank_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """bank.example: SPF for 192.0.2.0/24 only, DMARC p=reject: mail from elsewhere is a possible spoof."""
    zone = InMemoryZone(
        (
            ZoneRecord("bank.example", "TXT", b"v=spf1 ip4:192.0.2.0/24 -all"),
            ZoneRecord("_dmarc.bank.example", "TXT", b"v=DMARC1; p=reject"),
        )
    )
    monkeypatch.setattr(auth_dns, "resolver_factory", lambda timeout: zone)


def spoof(ingest: Ingest, mailbox: Mailbox, label: str) -> InboundMessage:
    return ingest(
        build_mail(sender="ceo@bank.example", subject=f"Wire {label}"), source_kind="smtp", mailbox=mailbox,
        client_ip="203.0.113.5", envelope_from="ceo@bank.example", envelope_to=["support@example.com"],
    )  # fmt: skip


def test_an_allowed_sender_still_fails_authentication_unless_the_entry_skips_it(
    ingest: Ingest, bank_zone: None
) -> None:
    """
    GIVEN a mailbox that quarantines possible spoofs, and ceo@bank.example allowed
    WHEN mail From ceo@bank.example arrives from outside the bank's SPF record (DMARC fails)
    THEN it is held as auth_failed; once the entry says skip_auth, the same mail passes and the trace says why
    """
    mailbox = make_mailbox(settings={"sender_auth": "quarantine"})
    entry = listed("ceo@bank.example", ListKind.ALLOW)

    held = spoof(ingest, mailbox, "one")
    assert held.cause == "auth_failed" and lists_step(held)["skip_auth"] == "no"

    entry.skip_auth = True
    entry.save()
    passed = spoof(ingest, mailbox, "two")
    assert passed.status == InboundStatus.PROCESSED
    assert "allow-listed with authentication skipped" in lists_step(passed)["_reason"]
    assert passed.message is not None and passed.message.possible_spoof is True  # still flagged for the agent


def test_no_entries_no_note(ingest: Ingest) -> None:
    row = ingest(build_mail(), mailbox=make_mailbox())
    assert row.status == InboundStatus.PROCESSED and "sender_list" not in lists_step(row)
