"""A hybrid organisation: one mailbox on on-premises Exchange (EWS stand-in) and one on IMAP (a real Dovecot over
TLS), both read by the poller's MailboxRunner in the same test and both turned into tickets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw, imap_mailbox

from dovecotserver import append_messages, needs_dovecot, serve_dovecot
from ewsstandin import EwsStandin, serve_ews
from postroom.connectors.runner import MailboxRunner
from postroom.inbound.models import InboundMessage
from postroom.inbound.services import process_inbound
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Ticket
from postroom.tickets.services import ensure_default_queue

pytestmark = [pytest.mark.live, needs_dovecot, pytest.mark.django_db(transaction=True)]

IMAP_USER = "hybrid-imap@example.test"


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_dovecot(tmp_path_factory, {IMAP_USER: "hybrid-imap-pw"})


@pytest.fixture(scope="module")
def ews(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EwsStandin]:
    yield from serve_ews(tmp_path_factory.mktemp("ews-hybrid"))


@pytest.fixture(autouse=True)
def _private_hosts_allowed(settings: Any) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)


def test_an_ews_mailbox_and_an_imap_mailbox_deliver_side_by_side(dovecot: Any, ews: EwsStandin) -> None:
    """GIVEN an EWS mailbox (impersonating shared@ on the Exchange stand-in) and an IMAP mailbox (Dovecot) WHEN each
    one's cycle runs THEN each message is one ledger row of its own source kind and becomes a ticket; WHEN both
    cycles run again THEN nothing is added."""
    ews.add_user("svc-hybrid@example.test", "svc-hybrid-pw")
    ews.impersonation["svc-hybrid@example.test"] = {"support-onprem@example.test"}
    ews.store.deliver("support-onprem@example.test", [build_raw("hybrid from exchange")])
    append_messages(dovecot, IMAP_USER, [build_raw("hybrid from imap")])
    tenant = get_default_tenant()
    exchange = Mailbox.objects.create(
        tenant=tenant,
        name="on-premises support",
        address="support-onprem@example.test",
        kind=ConnectorKind.EWS,
        settings={
            "url": ews.url,
            "username": "svc-hybrid@example.test",
            "auth_type": "basic",
            "impersonation": True,
            "ca_file": str(ews.ca_file),
        },
        secrets={"ews_password": "svc-hybrid-pw"},
        default_queue=ensure_default_queue(tenant),
    )
    imap = imap_mailbox(dovecot, IMAP_USER)

    def run_both() -> None:  # as a poller does: one MailboxRunner per mailbox, whatever its kind
        for mailbox in (exchange, imap):
            runner = MailboxRunner(mailbox.pk, lambda: True)
            try:
                runner.run_cycle()
            finally:
                runner.drop_session()

    run_both()
    rows = list(InboundMessage.objects.order_by("source_kind"))
    assert [(r.source_kind, r.mailbox_id) for r in rows] == [("ews", exchange.pk), ("imap", imap.pk)]
    assert all(process_inbound(r.pk) == "processed" for r in rows)
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["hybrid from exchange", "hybrid from imap"]
    run_both()
    assert InboundMessage.objects.count() == 2
