"""Sender authentication in the screen stage: each mailbox mode, with an in-memory DNS zone (no network)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from postroom.inbound import auth_dns, quarantine
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.inbound.smtp import deliver_envelope, peer_address
from postroom.mail.auth import InMemoryZone, ZoneRecord
from postroom.mail.transport.delivery import Envelope
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue

pytestmark = pytest.mark.django_db

Ingest = Callable[..., InboundMessage]
SPOOFER_IP = "203.0.113.5"
BANK_IP = "192.0.2.10"
BANK_ZONE = (
    ZoneRecord("bank.example", "TXT", b"v=spf1 ip4:192.0.2.0/24 -all"),
    ZoneRecord("_dmarc.bank.example", "TXT", b"v=DMARC1; p=reject"),
)


class CountingZone(InMemoryZone):
    """An in-memory zone that counts the lookups made, to prove a mode made none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookups = 0

    def resolve_txt(self, name: str) -> tuple[bytes, ...]:
        self.lookups += 1
        return super().resolve_txt(name)

    def resolve_addresses(self, name: str, rdtype: Any) -> tuple[str, ...]:
        self.lookups += 1
        return super().resolve_addresses(name, rdtype)

    def resolve_mx(self, name: str) -> Any:
        self.lookups += 1
        return super().resolve_mx(name)

    def resolve_ptr(self, name: str) -> tuple[str, ...]:
        self.lookups += 1
        return super().resolve_ptr(name)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> CountingZone:
    resolver = CountingZone(BANK_ZONE, timeouts=["_dmarc.slow.example"])
    monkeypatch.setattr(auth_dns, "resolver_factory", lambda timeout: resolver)
    return resolver


def make_mailbox(mode: str | None) -> Mailbox:
    """An SMTP mailbox with this sender_auth mode (None: the key is not set), routing to Support."""
    add_route("support@example.com", "Support")
    queue = Queue.objects.get(slug="support")
    settings = {} if mode is None else {"sender_auth": mode}
    return Mailbox.objects.create(
        tenant=get_default_tenant(), name=f"Support {mode}", kind=ConnectorKind.SMTP, default_queue=queue,
        settings=settings,
    )  # fmt: skip


def build_raw(author: str, label: str, *, extra_headers: str = "") -> bytes:
    return (
        f"{extra_headers}From: {author}\r\nTo: support@example.com\r\nSubject: Payment details {label}\r\n"
        f"Message-ID: <{label}@mail.example>\r\nDate: Tue, 03 Nov 2026 10:00:00 +0000\r\n\r\n"
        "Please wire the money today.\r\n"
    ).encode()


def receive_over_smtp(
    ingest: Ingest, mailbox: Mailbox, raw: bytes, *, client_ip: str, mail_from: str
) -> InboundMessage:
    return ingest(
        raw, source_kind="smtp", mailbox=mailbox, client_ip=client_ip, envelope_from=mail_from,
        envelope_to=["support@example.com"],
    )  # fmt: skip


def screen_step(row: InboundMessage, *, last: bool = True) -> dict[str, Any]:
    steps = [step for step in row.trace if step["stage"] == "screen"]
    return steps[-1] if last else steps[0]


def test_tag_mode_processes_a_dmarc_failing_spoof_with_the_flag_and_evidence(
    ingest: Ingest, zone: CountingZone
) -> None:
    """
    GIVEN a mailbox without a sender_auth setting (tag, the default) and bank.example publishing SPF and DMARC
          p=reject
    WHEN mail From the bank arrives over SMTP from an address outside the bank's SPF record
    THEN it becomes a ticket whose message is flagged possible_spoof with the DMARC failure as first evidence line,
         and the screen trace records mode, verdicts and evidence
    """
    mailbox = make_mailbox(None)
    raw = build_raw("CEO <ceo@bank.example>", "tag")

    row = receive_over_smtp(ingest, mailbox, raw, client_ip=SPOOFER_IP, mail_from="ceo@bank.example")

    assert row.status == InboundStatus.PROCESSED and row.client_ip == SPOOFER_IP
    message = row.message
    assert message is not None and message.possible_spoof is True
    assert message.auth_evidence[0].startswith("DMARC fail for bank.example")
    assert any(line.startswith("SPF fail") for line in message.auth_evidence)
    step = screen_step(row)
    assert step["verdict"] == "accepted" and "possible spoof" in step["reason"]
    assert step["data"]["sender_auth"] == "tag" and step["data"]["possible_spoof"] == "yes"
    assert (step["data"]["dmarc"], step["data"]["spf"]) == ("fail", "fail")
    assert "DMARC fail for bank.example" in step["data"]["evidence"]


def test_quarantine_mode_holds_the_spoof_and_a_release_makes_it_a_ticket(ingest: Ingest, zone: CountingZone) -> None:
    """
    GIVEN a mailbox in quarantine mode
    WHEN the same DMARC-failing spoof arrives, and then an admin releases it
    THEN it is first quarantined as auth_failed by the screen stage; after the release the screen stage lets it
         through ("released by admin"), it becomes a ticket, and the message is still flagged as a possible spoof
    """
    mailbox = make_mailbox("quarantine")
    row = receive_over_smtp(
        ingest, mailbox, build_raw("ceo@bank.example", "held"), client_ip=SPOOFER_IP, mail_from="ceo@bank.example"
    )
    assert (row.status, row.cause, row.message) == (InboundStatus.QUARANTINED, "auth_failed", None)
    assert screen_step(row)["verdict"] == "quarantine"
    assert quarantine.find_release_refusal(row) is None

    admin = quarantine.Actor.of(get_user_model().objects.create_user("admin", password=None))
    released = quarantine.release_message(row.pk, admin)

    assert released.status == InboundStatus.PROCESSED and released.message is not None
    assert released.message.ticket.queue.name == "Support"
    assert released.message.possible_spoof is True
    second = screen_step(released)
    assert second["verdict"] == "released" and "released by admin" in second["reason"]


def test_reject_mode_over_smtp_is_recorded_as_rejected_and_quarantined(ingest: Ingest, zone: CountingZone) -> None:
    """
    GIVEN a mailbox in reject mode
    WHEN the spoof arrives over SMTP (the listener has already answered 250)
    THEN it is quarantined as auth_failed and the trace says it was rejected and why it is held instead
    """
    mailbox = make_mailbox("reject")
    row = receive_over_smtp(
        ingest, mailbox, build_raw("ceo@bank.example", "reject"), client_ip=SPOOFER_IP, mail_from="ceo@bank.example"
    )
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "auth_failed")
    step = screen_step(row)
    assert step["data"]["outcome"] == "rejected" and step["reason"].startswith("rejected:")
    assert "the SMTP listener accepted it" in step["reason"]


def test_authenticated_mail_is_untouched(ingest: Ingest, zone: CountingZone) -> None:
    """
    GIVEN a mailbox in quarantine mode
    WHEN mail From the bank arrives from an address its SPF record authorises
    THEN it becomes a ticket without the flag, and the trace says DMARC passed
    """
    mailbox = make_mailbox("quarantine")
    row = receive_over_smtp(
        ingest, mailbox, build_raw("ceo@bank.example", "genuine"), client_ip=BANK_IP, mail_from="ceo@bank.example"
    )
    assert row.status == InboundStatus.PROCESSED and row.message is not None
    assert row.message.possible_spoof is False
    assert any(line.startswith("DMARC pass for bank.example") for line in row.message.auth_evidence)
    step = screen_step(row)
    assert step["data"]["possible_spoof"] == "no" and step["data"]["dmarc"] == "pass"


def test_a_dns_timeout_only_tags_even_in_quarantine_mode(ingest: Ingest, zone: CountingZone, settings: Any) -> None:
    """
    GIVEN a mailbox in quarantine mode, a trusted receiving server whose Authentication-Results say dmarc=fail,
          and a DMARC record lookup that times out
    WHEN the message arrives
    THEN it is processed (not quarantined), flagged as a possible spoof, and the trace notes the temporary DNS error
    """
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, trusted_authserv_ids=("mx.desk.example.org",))
    mailbox = make_mailbox("quarantine")
    raw = build_raw(
        "ceo@slow.example",
        "slow",
        extra_headers="Authentication-Results: mx.desk.example.org; dmarc=fail header.from=slow.example\r\n",
    )
    row = receive_over_smtp(ingest, mailbox, raw, client_ip=SPOOFER_IP, mail_from="ceo@slow.example")

    assert row.status == InboundStatus.PROCESSED and row.message is not None
    assert row.message.possible_spoof is True
    step = screen_step(row)
    assert step["data"]["dmarc"] == "temperror" and step["data"]["dns"] == "temporary error"
    assert "only tagged" in step["reason"]


def test_mode_off_skips_the_check_without_a_dns_query(ingest: Ingest, zone: CountingZone) -> None:
    """
    GIVEN a mailbox with sender_auth off
    WHEN the DMARC-failing spoof arrives
    THEN it becomes an unflagged ticket, no DNS lookup was made, and the trace says the check is off
    """
    mailbox = make_mailbox("off")
    row = receive_over_smtp(
        ingest, mailbox, build_raw("ceo@bank.example", "off"), client_ip=SPOOFER_IP, mail_from="ceo@bank.example"
    )
    assert row.status == InboundStatus.PROCESSED and row.message is not None
    assert row.message.possible_spoof is False and row.message.auth_evidence == []
    assert zone.lookups == 0
    step = screen_step(row)
    assert step["data"]["sender_auth"] == "off" and step["data"]["requester"] == "ceo@bank.example"
    assert not {"possible_spoof", "dmarc", "spf", "dkim", "arc", "evidence"} & set(step["data"])  # nothing checked
    assert "sender authentication off" in step["reason"]


@pytest.mark.django_db(transaction=True)  # the listener's connection check closes a connection inside a transaction
def test_smtp_listener_stores_the_client_ip() -> None:
    """
    GIVEN envelopes from an IPv4 and an IPv6 peer, as the listener formats them
    WHEN they are delivered
    THEN the ledger rows carry the peers' addresses; a peer that is no address gives none
    """
    assert (peer_address("203.0.113.5:4567"), peer_address("[2001:db8::1]:25"), peer_address("unix")) == (
        "203.0.113.5",
        "2001:db8::1",
        None,
    )
    outcome = deliver_envelope(
        Envelope(mail_from="a@example.org", rcpt_tos=("s@example.com",), raw=build_raw("a@example.org", "v6"),
                 peer="[2001:db8::1]:25")
    )  # fmt: skip
    assert InboundMessage.objects.get(tracking_id=outcome.reason).client_ip == "2001:db8::1"


def test_ticket_page_warns_agents_about_a_possible_spoof(ingest: Ingest, zone: CountingZone, client: Any) -> None:
    """
    GIVEN a tagged spoof that became a ticket in Support, and an agent of Support
    WHEN the agent opens the ticket
    THEN the message header shows the possible-spoof warning with the DMARC failure, and the evidence list
    """
    from postroom.accounts.models import Role
    from staff import make_staff

    row = receive_over_smtp(
        ingest,
        make_mailbox("tag"),
        build_raw("ceo@bank.example", "page"),
        client_ip=SPOOFER_IP,
        mail_from="x@bank.example",
    )
    assert row.message is not None
    client.force_login(make_staff(Role.AGENT, get_default_tenant(), [Queue.objects.get(slug="support")]))

    page = client.get(f"/tickets/{row.message.ticket.reference}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Warning: possible spoof." in html and "DMARC fail for bank.example" in html
    assert "Sender authentication evidence" in html


@pytest.mark.parametrize("kind", ConnectorKind.values)
def test_mailbox_settings_accept_the_sender_auth_modes_for_every_kind(kind: str) -> None:
    """
    GIVEN each connector kind
    WHEN its settings carry sender_auth "quarantine", or an unknown mode
    THEN the mode is accepted, the unknown one refused naming settings.sender_auth
    """
    from postroom.mailboxes.connector_settings import SettingsInvalidError, parse_mailbox_settings

    servers: dict[str, dict[str, str]] = {
        ConnectorKind.IMAP: {"host": "imap.example.org", "username": "u"},
        ConnectorKind.POP3: {"host": "pop.example.org", "username": "u"},
        ConnectorKind.GRAPH: {"tenant_id": "t", "client_id": "c", "user": "u"},
        ConnectorKind.EWS: {"url": "https://ews.example.org/EWS/Exchange.asmx", "username": "u"},
    }
    base = servers.get(kind, {})
    parse_mailbox_settings(kind, {**base, "sender_auth": "quarantine"})
    with pytest.raises(SettingsInvalidError) as refused:
        parse_mailbox_settings(kind, {**base, "sender_auth": "bounce"})
    assert list(refused.value.errors) == ["settings.sender_auth"]
